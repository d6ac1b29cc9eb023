// Package workload generates the benchmark's data deterministically from a
// seed: a pool of documents with versions, mailboxes whose threads carry
// them (replied to, forwarded, with signature logos referenced by cid:),
// a department share with duplicates and version-named copies, and single
// large items. Everything is streamed to disk; no file is held in memory.
package workload

import (
	"archive/zip"
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strings"
)

// Doc is one document of the pool. Its bytes at a version are a pure
// function of the seed, so mail and share copies of the same version are
// byte-identical without being kept anywhere.
type Doc struct {
	ID    int
	Title string // "Budget Forecast 2024"
	Ext   string // ".docx", ".pdf", ".csv", ".txt", ".png", ".zip"
	Size  int64  // approximate size of each version
	seed  uint64
}

// Name is the file name of a version ("Budget Forecast 2024 v2.docx").
func (d Doc) Name(version int) string {
	if version <= 1 {
		return d.Title + d.Ext
	}
	return fmt.Sprintf("%s v%d%s", d.Title, version, d.Ext)
}

// MediaType is the document's Content-Type.
func (d Doc) MediaType() string {
	switch d.Ext {
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".pdf":
		return "application/pdf"
	case ".csv":
		return "text/csv"
	case ".txt":
		return "text/plain"
	case ".png":
		return "image/png"
	case ".mp4":
		return "video/mp4"
	default:
		return "application/zip"
	}
}

// rng returns a generator for one stream of the document.
func (d Doc) rng(parts ...uint64) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprint(h, d.seed, d.ID, parts)
	return rand.New(rand.NewPCG(d.seed, h.Sum64()))
}

// paragraphs is how many text paragraphs a version has.
func (d Doc) paragraphs() int {
	n := int(d.Size / 2048)
	if d.Ext == ".docx" || d.Ext == ".pdf" {
		n = 8 + int(d.Size/40000) // the rest is embedded binary
	}
	return max(4, min(n, 400))
}

// paragraph returns paragraph i as it reads at version v: each version
// rewrites roughly one paragraph in six.
func (d Doc) paragraph(i, v int) string {
	last, n := 1, d.paragraphs()
	for k := 2; k <= v; k++ {
		if k%n == i || d.rng(uint64(i), uint64(k), 7).IntN(6) == 0 {
			last = k // every version changes at least paragraph k mod n
		}
	}
	r := d.rng(uint64(i), uint64(last))
	var b strings.Builder
	for w := range 30 + r.IntN(60) {
		if w > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	b.WriteByte('.')
	return b.String()
}

// WriteTo writes version v of the document to w.
func (d Doc) WriteTo(w io.Writer, v int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch d.Ext {
	case ".docx":
		err = d.writeDocx(bw, v)
	case ".pdf":
		err = d.writePDF(bw, v)
	case ".csv", ".txt":
		err = d.writeText(bw, v)
	default:
		_, err = io.CopyN(bw, NewRandom(d.seed^uint64(d.ID)<<20^uint64(v)), d.Size)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func (d Doc) writeText(w io.Writer, v int) error {
	sep := "\n\n"
	if d.Ext == ".csv" {
		if _, err := io.WriteString(w, "id,item,notes\n"); err != nil {
			return err
		}
	}
	for i := range d.paragraphs() {
		p := d.paragraph(i, v)
		if d.Ext == ".csv" {
			p = fmt.Sprintf("%d,%q,%q", i, p[:min(20, len(p))], p)
			sep = "\n"
		}
		if _, err := io.WriteString(w, p+sep); err != nil {
			return err
		}
	}
	return nil
}

// binaryTail is how many opaque bytes (images, fonts) a docx or pdf
// carries beside its text.
func (d Doc) binaryTail() int64 {
	return max(0, d.Size-int64(d.paragraphs())*400)
}

func (d Doc) writeDocx(w io.Writer, v int) error {
	z := zip.NewWriter(w)
	f, err := z.Create("[Content_Types].xml")
	if err != nil {
		return err
	}
	io.WriteString(f, `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`)
	f, err = z.Create("word/document.xml")
	if err != nil {
		return err
	}
	io.WriteString(f, `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for i := range d.paragraphs() {
		fmt.Fprintf(f, "<w:p><w:r><w:t>%s</w:t></w:r></w:p>", d.paragraph(i, v))
	}
	io.WriteString(f, `</w:body></w:document>`)
	if tail := d.binaryTail(); tail > 0 {
		f, err = z.CreateHeader(&zip.FileHeader{Name: "word/media/image1.png", Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := io.CopyN(f, NewRandom(d.seed^uint64(d.ID)), tail); err != nil {
			return err
		}
	}
	return z.Close()
}

func (d Doc) writePDF(w io.Writer, v int) error {
	var text strings.Builder
	text.WriteString("BT /F1 11 Tf 72 720 Td 14 TL\n")
	for i := range d.paragraphs() {
		fmt.Fprintf(&text, "(%s) '\n", d.paragraph(i, v))
	}
	text.WriteString("ET\n")
	tail := d.binaryTail()
	fmt.Fprintf(w, "%%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"+
		"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >> endobj\n"+
		"4 0 obj << /Length %d >> stream\n%sendstream endobj\n5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n"+
		"6 0 obj << /Type /XObject /Subtype /Image /Width 1 /Height 1 /BitsPerComponent 8 /ColorSpace /DeviceGray /Length %d >> stream\n",
		text.Len(), text.String(), tail)
	if _, err := io.CopyN(w, NewRandom(d.seed^uint64(d.ID)), tail); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	return err
}

// Random is a fast deterministic stream of incompressible bytes.
type Random struct{ c *rand.ChaCha8 }

// NewRandom returns the stream for seed.
func NewRandom(seed uint64) *Random {
	var s [32]byte
	for i := range 4 {
		for j := range 8 {
			s[i*8+j] = byte((seed + uint64(i)*0x9e3779b97f4a7c15) >> (8 * j))
		}
	}
	return &Random{rand.NewChaCha8(s)}
}

// Read fills p; it never fails.
func (r *Random) Read(p []byte) (int, error) { return r.c.Read(p) }

var words = strings.Fields(`the budget forecast quarter revenue cost staff review policy draft final
project milestone risk register supplier contract invoice payment schedule meeting minutes
agenda action owner deadline approval board committee report summary annex appendix figure
table chart customer service delivery plan strategy objective target performance measure
indicator baseline audit compliance procurement tender award evaluation criteria score team
department office building lease maintenance energy travel training recruitment salary
pension benefit holiday leave sickness absence workforce capacity demand forecast growth
reduction saving efficiency programme portfolio benefit realisation business case option
appraisal preferred recommendation decision note update status amber green red issue change
request scope quality assurance testing acceptance handover closure lessons learned and of to
in for on with by from at as is are was were be this that which will should may must can
council finance legal estates digital data security privacy information governance records`)
