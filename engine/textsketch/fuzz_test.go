package textsketch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"
)

func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*")) }

// FuzzSketch: any bytes under any name must not panic, must be consumed
// whole and hashed, and must give a sorted sketch of at most SketchSize.
func FuzzSketch(f *testing.F) {
	text := paragraphs(3, 3)
	f.Add("a.docx", docx(f, text))
	f.Add("a.xlsx", xlsx(f, text))
	f.Add("a.pptx", pptx(f, text))
	f.Add("a.odt", odt(f, text))
	f.Add("a.pdf", pdf(f, text))
	f.Add("a.txt", []byte("hello world, this is text\xff\xfe"))
	f.Add("a.csv", []byte("\xff\xfeh\x00i\x00"))
	f.Add("x", []byte("%PDF-1.0\n1 0 obj<</Length 3>>stream\n(a) Tj\nendstream"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		o := Options{MemBytes: 512, TempDir: t.TempDir(), MaxPartBytes: 1 << 20}
		c, _ := o.Sketch(name, bytes.NewReader(data), int64(len(data)))
		sum := sha256.Sum256(data)
		if c.Blob != hex.EncodeToString(sum[:]) {
			t.Fatalf("blob %q", c.Blob)
		}
		if len(c.Sketch) > SketchSize {
			t.Fatalf("sketch of %d", len(c.Sketch))
		}
		for i := 1; i < len(c.Sketch); i++ {
			if c.Sketch[i-1] >= c.Sketch[i] {
				t.Fatal("sketch not strictly ascending")
			}
		}
	})
}
