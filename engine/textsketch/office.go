package textsketch

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncd/syncd/engine/history"
)

// extractZip opens an OOXML or ODF container (buffered in memory up to
// MemBytes, spooled to a temporary file beyond) and feeds the text of its
// content parts, in document order, to sh. kind "zip" is resolved from the
// container's entries; the resolved kind is returned.
func (o Options) extractZip(kind string, r io.Reader, sizeHint int64, sh *shingler, c *history.Content) (string, error) {
	ra, size, cleanup, err := o.spool(r, sizeHint)
	if err != nil {
		return kind, err
	}
	defer cleanup()
	return o.zipText(kind, ra, size, sh, c)
}

// zipText feeds the text of a random-access container of size bytes, and
// puts the document's own record of its last save in c.
func (o Options) zipText(kind string, ra io.ReaderAt, size int64, sh *shingler, c *history.Content) (string, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return kind, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	if kind == "zip" {
		kind = zipKind(files)
	}
	o.saveRecord(files, kind, c)
	switch kind {
	case "docx":
		return kind, o.xmlParts(files, []string{"word/document.xml"}, docxText, sh)
	case "pptx":
		return kind, o.xmlParts(files, numbered(files, "ppt/slides/slide"), pptxText, sh)
	case "xlsx":
		return kind, o.xlsx(files, sh)
	case "odt", "ods", "odp":
		return kind, o.xmlParts(files, []string{"content.xml"}, odfText, sh)
	}
	return kind, ErrUnsupported
}

// saveRecord reads when the document says it was last saved, and how many
// times it was saved, from its properties (OOXML docProps/core.xml:
// dcterms:modified, cp:revision; ODF meta.xml: dc:date,
// meta:editing-cycles). A part that is missing or unreadable leaves c as
// it is: the properties are evidence, never a reason to fail.
func (o Options) saveRecord(files map[string]*zip.File, kind string, c *history.Content) {
	part, modified, revision := "docProps/core.xml", "modified", "revision"
	if kind == "odt" || kind == "ods" || kind == "odp" {
		part, modified, revision = "meta.xml", "date", "editing-cycles"
	}
	f := files[part]
	if f == nil {
		return
	}
	var in string // the element whose text is being read
	var text []byte
	done := false
	_ = o.eachToken(f, func() bool { return done }, func(tok xml.Token) {
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == modified || t.Name.Local == revision {
				in, text = t.Name.Local, text[:0]
			}
		case xml.CharData:
			if in != "" && len(text) < 64 {
				text = append(text, t...)
			}
		case xml.EndElement:
			if in == "" || t.Name.Local != in {
				return
			}
			v := strings.TrimSpace(string(text))
			if in == modified {
				if tm, err := time.Parse(time.RFC3339, v); err == nil && tm.Year() >= 1990 {
					c.Modified = tm.UTC()
				} else if tm, err := time.Parse("2006-01-02T15:04:05", v); err == nil && tm.Year() >= 1990 {
					c.Modified = tm // ODF's dc:date often has no zone: taken as UTC
				}
			} else if n, err := strconv.Atoi(v); err == nil && n > 0 {
				c.Revision = n
			}
			in = ""
			done = !c.Modified.IsZero() && c.Revision > 0
		}
	})
}

func zipKind(files map[string]*zip.File) string {
	switch {
	case files["word/document.xml"] != nil:
		return "docx"
	case files["xl/workbook.xml"] != nil:
		return "xlsx"
	case files["ppt/presentation.xml"] != nil:
		return "pptx"
	case files["content.xml"] != nil:
		return "odt"
	}
	return "zip"
}

// spoolPool recycles the in-memory spools of small containers (most
// documents), which would otherwise be most of the sketcher's garbage.
var spoolPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// spoolPoolMax bounds the buffers kept for reuse.
const spoolPoolMax = 1 << 20

// spool makes r random-access: in memory when it fits MemBytes, else in a
// temporary file that cleanup removes. sizeHint (-1 if unknown) sizes the
// buffer up front.
func (o Options) spool(r io.Reader, sizeHint int64) (io.ReaderAt, int64, func(), error) {
	buf := spoolPool.Get().(*bytes.Buffer)
	buf.Reset()
	release := func() {
		if buf.Cap() <= spoolPoolMax {
			spoolPool.Put(buf)
		}
	}
	if sizeHint >= 0 && sizeHint <= o.MemBytes {
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, o.MemBytes+1)); err != nil {
		release()
		return nil, 0, func() {}, err
	}
	if int64(buf.Len()) <= o.MemBytes {
		return bytes.NewReader(buf.Bytes()), int64(buf.Len()), release, nil
	}
	f, err := os.CreateTemp(o.TempDir, "textsketch-*")
	if err != nil {
		release()
		return nil, 0, func() {}, fmt.Errorf("spool: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, io.MultiReader(bytes.NewReader(buf.Bytes()), io.LimitReader(r, o.MaxBytes)))
	release()
	if err != nil {
		cleanup()
		return nil, 0, func() {}, fmt.Errorf("spool: %w", err)
	}
	return f, n, cleanup, nil
}

// numbered lists entries prefix1.xml, prefix2.xml ... in numeric order.
func numbered(files map[string]*zip.File, prefix string) []string {
	type e struct {
		n    int
		name string
	}
	var list []e
	for name := range files {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || !strings.HasSuffix(rest, ".xml") {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSuffix(rest, ".xml")); err == nil {
			list = append(list, e{n, name})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n < list[j].n })
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = x.name
	}
	return out
}

// textRule says, for one XML vocabulary, which elements hold text and
// which end a word.
type textRule struct {
	text func(local string) bool // character data inside is text
	brk  func(local string) bool // the element's start or end separates words
}

var (
	docxText = textRule{
		text: func(l string) bool { return l == "t" || l == "delText" },
		brk:  func(l string) bool { return l == "p" || l == "tab" || l == "br" || l == "cr" || l == "tc" },
	}
	pptxText = textRule{
		text: func(l string) bool { return l == "t" },
		brk:  func(l string) bool { return l == "p" || l == "br" || l == "tc" },
	}
	odfText = textRule{
		text: func(string) bool { return true },
		brk: func(l string) bool {
			return l == "p" || l == "h" || l == "s" || l == "tab" || l == "line-break" || l == "table-cell"
		},
	}
)

func (o Options) xmlParts(files map[string]*zip.File, names []string, rule textRule, sh *shingler) error {
	if len(names) == 0 {
		return fmt.Errorf("%w: no content part", ErrCorrupt)
	}
	for _, name := range names {
		f := files[name]
		if f == nil {
			return fmt.Errorf("%w: missing %s", ErrCorrupt, name)
		}
		if err := o.xmlText(f, rule, sh); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// eachToken reads the XML part f (at most MaxPartBytes of it, leniently)
// and hands fn its raw tokens until the part ends or stop reports true.
// A part that cannot be read or parsed is ErrCorrupt.
func (o Options) eachToken(f *zip.File, stop func() bool, fn func(xml.Token)) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer rc.Close()
	dec := xml.NewDecoder(io.LimitReader(rc, o.MaxPartBytes))
	dec.Strict = false
	for !stop() {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		fn(tok)
	}
	return nil
}

func (o Options) xmlText(f *zip.File, rule textRule, sh *shingler) error {
	depth := 0 // > 0 while inside a text element
	return o.eachToken(f, sh.full, func(tok xml.Token) {
		switch t := tok.(type) {
		case xml.StartElement:
			if rule.brk(t.Name.Local) {
				sh.sep('\n')
			}
			if rule.text(t.Name.Local) {
				depth++
			}
		case xml.EndElement:
			if rule.text(t.Name.Local) && depth > 0 {
				depth--
			}
			if rule.brk(t.Name.Local) {
				sh.sep('\n')
			}
		case xml.CharData:
			if depth > 0 {
				sh.Write(t)
			}
		}
	})
}
