package textsketch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine/history"
)

func mustSketch(t *testing.T, name string, data []byte) history.Content {
	t.Helper()
	c, err := Sketch(name, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	sum := sha256.Sum256(data)
	if c.Blob != hex.EncodeToString(sum[:]) {
		t.Fatalf("%s: blob %s, want sha256 of the input", name, c.Blob)
	}
	return c
}

// Every format yields the same words for the same text, so the sketches of
// one text in different formats agree; an edit stays similar; another text
// does not.
func TestFormatsAgree(t *testing.T) {
	text := paragraphs(1, 8)
	edited := append([]string(nil), text...)
	edited[3] = paragraphs(99, 1)[0]
	other := paragraphs(2, 8)
	plain := func(_ testing.TB, p []string) []byte { return []byte(strings.Join(p, "\r\n\r\n")) }
	csv := func(_ testing.TB, p []string) []byte {
		return []byte("\xef\xbb\xbf" + strings.Join(p, "\r\n"))
	}
	ref := mustSketch(t, "ref.txt", plain(t, text))
	if ref.Tokens < 200 || len(ref.Sketch) == 0 {
		t.Fatalf("reference: %d tokens, %d hashes", ref.Tokens, len(ref.Sketch))
	}
	cases := []struct {
		name, kind string
		make       func(testing.TB, []string) []byte
		minSame    float64
	}{
		{"a.docx", "docx", docx, 0.99},
		{"a.xlsx", "xlsx", xlsx, 0.75}, // numeric cells add words
		{"a.pptx", "pptx", pptx, 0.99},
		{"a.odt", "odt", odt, 0.99},
		{"a.pdf", "pdf", pdf, 0.99},
		{"a.csv", "csv", csv, 0.99},
		{"a.txt", "txt", plain, 0.99},
		{"no-extension", "docx", docx, 0.99}, // sniffed from the zip entries
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			same := mustSketch(t, tc.name, tc.make(t, text))
			if same.Kind != tc.kind {
				t.Errorf("kind %q, want %q", same.Kind, tc.kind)
			}
			if j := history.Jaccard(ref.Sketch, same.Sketch); j < tc.minSame {
				t.Errorf("same text: Jaccard %.3f < %.2f", j, tc.minSame)
			}
			ed := mustSketch(t, tc.name, tc.make(t, edited))
			if j := history.Jaccard(same.Sketch, ed.Sketch); j < 0.6 || j > 0.98 {
				t.Errorf("one paragraph edited: Jaccard %.3f, want 0.6..0.98", j)
			}
			ot := mustSketch(t, tc.name, tc.make(t, other))
			if j := history.Jaccard(same.Sketch, ot.Sketch); j > 0.2 {
				t.Errorf("other text: Jaccard %.3f > 0.2", j)
			}
		})
	}
}

func TestBadInputNamesItem(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"broken.docx", []byte("PK\x03\x04 not really a zip"), ErrCorrupt},
		{"broken.pdf", []byte("%PDF-1.4\nno streams here\n%%EOF"), ErrCorrupt},
		{"photo.jpg", []byte("\xff\xd8\xff\xe0 jpeg"), ErrUnsupported},
	} {
		c, err := Sketch(tc.name, bytes.NewReader(tc.data), int64(len(tc.data)))
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: err %v, want %v naming the item", tc.name, err, tc.want)
		}
		sum := sha256.Sum256(tc.data)
		if c.Blob != hex.EncodeToString(sum[:]) || c.Sketch != nil {
			t.Errorf("%s: content %+v: want blob hashed and no sketch", tc.name, c)
		}
	}
	if _, err := Sketch("short.txt", strings.NewReader("abc"), 10); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("size mismatch: err %v", err)
	}
}

// A zip larger than MemBytes is spooled to a temporary file, not held in
// memory, and still extracted.
func TestLargeZipSpooled(t *testing.T) {
	text := paragraphs(5, 400)
	data := docx(t, text)
	dir := t.TempDir()
	o := Options{MemBytes: 1024, TempDir: dir}
	c, err := o.Sketch("big.docx", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tokens < 10000 || len(c.Sketch) != SketchSize {
		t.Fatalf("tokens %d, sketch %d", c.Tokens, len(c.Sketch))
	}
	if left, _ := filepathGlob(dir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// Text is streamed: a 64 MiB text reader is sketched with the token cap, and
// the whole reader is consumed and hashed.
func TestStreamingTextCap(t *testing.T) {
	const size = 64 << 20
	r := io.LimitReader(repeatReader("lorem ipsum dolor sit amet consectetur "), size)
	o := Options{MaxTokens: 5000}
	c, err := o.Sketch("huge.txt", r, size)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tokens != 5000 || c.Blob == "" {
		t.Fatalf("tokens %d blob %q", c.Tokens, c.Blob)
	}
}

type repeatReader string

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}
