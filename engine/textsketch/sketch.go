// Package textsketch extracts the words of a document (docx, xlsx, pptx,
// odt/ods/odp, pdf, txt, csv) from a stream and reduces them to a bottom-k
// MinHash sketch over word shingles, so that history rebuilding can tell
// "an edited version of this document" from "another document".
//
// Memory is bounded: text is never held whole (words stream into the
// sketch), zip containers are buffered in memory only up to
// Options.MemBytes and spooled to a temporary file beyond that, and every
// decompressed part is capped at Options.MaxPartBytes.
package textsketch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/syncd/syncd/engine/history"
)

// Errors returned (wrapped) by Sketch.
var (
	ErrUnsupported = errors.New("unsupported format")
	ErrCorrupt     = errors.New("corrupt document")
	ErrTooLarge    = errors.New("too large to extract")
)

// Options bound the work done per blob. The zero value means the defaults.
type Options struct {
	MemBytes     int64  // zip containers up to this size are buffered in memory (default 8 MiB)
	MaxBytes     int64  // larger inputs are hashed but not extracted (default 512 MiB)
	MaxPartBytes int64  // cap on the decompressed bytes read from one part or stream (default 64 MiB)
	MaxTokens    int    // words after this many are ignored (default 1,000,000)
	TempDir      string // where large zips are spooled ("" = os.TempDir())
	// Text, when set, receives the text as extracted, up to the run of
	// text that reaches MaxTokens words: paragraphs and rows end in a newline, cells in a tab (for
	// showing or comparing versions; the sketch is the same either way).
	Text io.Writer
	// SkipHash leaves Content.Blob empty instead of hashing every byte
	// (for callers that already know the content's id).
	SkipHash bool
	// NoDrain stops reading once the text is extracted (or the kind is
	// known to be unsupported) instead of consuming the whole reader; the
	// size check is then skipped. With NoDrain, a reader that is also an
	// io.ReaderAt of the given size (an *os.File) has its zip containers
	// read in place instead of copied.
	NoDrain bool
}

func (o Options) withDefaults() Options {
	if o.MemBytes <= 0 {
		o.MemBytes = 8 << 20
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 512 << 20
	}
	if o.MaxPartBytes <= 0 {
		o.MaxPartBytes = 64 << 20
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 1_000_000
	}
	return o
}

// Sketch reads r (size bytes, or -1 when unknown) to the end and returns the
// blob's sha256, kind, word count and sketch, with default Options.
func Sketch(name string, r io.Reader, size int64) (history.Content, error) {
	return Options{}.Sketch(name, r, size)
}

// Sketch reads r to the end. It always consumes the whole reader and fills
// Content.Blob; when the text cannot be extracted it returns the Content
// without a sketch together with an error naming the item.
func (o Options) Sketch(name string, r io.Reader, size int64) (history.Content, error) {
	o = o.withDefaults()
	var h hash.Hash
	tr := &countReader{r: r}
	if !o.SkipHash {
		h = sha256.New()
		tr.r = io.TeeReader(r, h)
	}
	kind, head, err := sniff(name, tr)
	c := history.Content{Kind: kind}
	if err != nil {
		return c, fmt.Errorf("textsketch: %s: read: %w", name, err)
	}
	src := io.MultiReader(bytes.NewReader(head), tr)
	sh := newShingler(o.MaxTokens)
	sh.text = o.Text
	var xerr error
	switch {
	case size > o.MaxBytes:
		xerr = ErrTooLarge
	case kind == "docx" || kind == "xlsx" || kind == "pptx" || kind == "odt" || kind == "ods" || kind == "odp" || kind == "zip":
		if ra, ok := r.(io.ReaderAt); ok && o.NoDrain && size >= 0 {
			// A file (a stored blob): read the container in place.
			c.Kind, xerr = o.zipText(kind, ra, size, sh, &c)
		} else {
			c.Kind, xerr = o.extractZip(kind, src, size, sh, &c)
		}
	case kind == "pdf":
		xerr = o.extractPDF(src, sh)
	case kind == "txt" || kind == "csv":
		xerr = extractText(io.LimitReader(src, o.MaxPartBytes), sh)
	default:
		xerr = ErrUnsupported
	}
	if o.NoDrain {
		if xerr != nil {
			return c, fmt.Errorf("textsketch: %s: extract %s: %w", name, kind, xerr)
		}
		c.Sketch, c.Tokens = sh.finish()
		return c, nil
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return c, fmt.Errorf("textsketch: %s: read: %w", name, err)
	}
	if h != nil {
		c.Blob = hex.EncodeToString(h.Sum(nil))
	}
	if size >= 0 && tr.n != size {
		return c, fmt.Errorf("textsketch: %s: read %d bytes, expected %d: %w", name, tr.n, size, io.ErrUnexpectedEOF)
	}
	if xerr != nil {
		return c, fmt.Errorf("textsketch: %s: extract %s: %w", name, kind, xerr)
	}
	c.Sketch, c.Tokens = sh.finish()
	return c, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// sniff decides the kind from the name's extension, falling back to the
// first bytes. It returns the bytes it had to read.
func sniff(name string, r io.Reader) (string, []byte, error) {
	head := make([]byte, 8)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", head, err
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	switch ext {
	case "docx", "docm", "dotx":
		return "docx", head, nil
	case "xlsx", "xlsm", "xltx":
		return "xlsx", head, nil
	case "pptx", "pptm", "potx":
		return "pptx", head, nil
	case "odt", "ods", "odp", "pdf", "csv":
		return ext, head, nil
	case "txt", "text", "md", "log", "tsv":
		return "txt", head, nil
	}
	switch {
	case bytes.HasPrefix(head, []byte("%PDF")):
		return "pdf", head, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "zip", head, nil
	}
	return "", head, nil
}
