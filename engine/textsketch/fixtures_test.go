package textsketch

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"fmt"
	"html"
	"math/rand"
	"strings"
	"testing"
)

var words = strings.Fields(`programme payroll finance migration cutover risk register board budget supplier
	contract service transition data quality legacy ledger staff engagement integration platform timeline
	forecast savings benefits tracked monthly reported approval readiness training plan option recommend`)

// paragraphs makes n deterministic pseudo-random paragraphs.
func paragraphs(seed int64, n int) []string {
	r := rand.New(rand.NewSource(seed))
	out := make([]string, n)
	for i := range out {
		w := make([]string, 25+r.Intn(15))
		for j := range w {
			w[j] = words[r.Intn(len(words))]
		}
		out[i] = strings.Join(w, " ") + "."
	}
	return out
}

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedNames(files) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[name]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func docx(t testing.TB, paras []string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for _, p := range paras {
		// split each paragraph over two runs mid-word, as Word does
		h := len(p) / 2
		fmt.Fprintf(&b, `<w:p><w:r><w:t>%s</w:t></w:r><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`,
			html.EscapeString(p[:h]), html.EscapeString(p[h:]))
	}
	b.WriteString(`</w:body></w:document>`)
	return zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>", "word/document.xml": b.String(),
		"docProps/core.xml": "<cp:coreProperties><dc:creator>Someone Else Entirely</dc:creator></cp:coreProperties>"})
}

func xlsx(t testing.TB, paras []string) []byte {
	var ss, sheet strings.Builder
	ss.WriteString(`<sst>`)
	sheet.WriteString(`<worksheet><sheetData>`)
	for i, p := range paras {
		fmt.Fprintf(&ss, `<si><t>%s</t></si>`, html.EscapeString(p))
		fmt.Fprintf(&sheet, `<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d"><v>%d</v></c></row>`, i+1, i+1, i, i+1, 1000+i)
	}
	ss.WriteString(`</sst>`)
	sheet.WriteString(`</sheetData></worksheet>`)
	return zipOf(t, map[string]string{"xl/workbook.xml": "<workbook/>", "xl/sharedStrings.xml": ss.String(),
		"xl/worksheets/sheet1.xml": sheet.String()})
}

func pptx(t testing.TB, paras []string) []byte {
	files := map[string]string{"ppt/presentation.xml": "<p:presentation/>"}
	for i, p := range paras {
		files[fmt.Sprintf("ppt/slides/slide%d.xml", i+1)] = `<p:sld><a:p><a:r><a:t>` + html.EscapeString(p) + `</a:t></a:r></a:p></p:sld>`
	}
	return zipOf(t, files)
}

func odt(t testing.TB, paras []string) []byte {
	var b strings.Builder
	b.WriteString(`<office:document-content><office:body><office:text>`)
	for _, p := range paras {
		b.WriteString(`<text:p>` + html.EscapeString(p) + `</text:p>`)
	}
	b.WriteString(`</office:text></office:body></office:document-content>`)
	return zipOf(t, map[string]string{"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": b.String()})
}

// pdf writes a minimal PDF whose page content is a FlateDecode stream of
// Tj operators, one per wrapped line, like gen_corpus.py does.
func pdf(t testing.TB, paras []string) []byte {
	var content bytes.Buffer
	content.WriteString("BT\n13 TL\n56 790 Td\n")
	for _, p := range paras {
		for len(p) > 0 {
			n := min(len(p), 80)
			if n < len(p) {
				if i := strings.LastIndexByte(p[:n], ' '); i > 0 {
					n = i
				}
			}
			line := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(p[:n])
			fmt.Fprintf(&content, "/F1 10 Tf (%s) Tj T*\n", line)
			p = strings.TrimLeft(p[n:], " ")
		}
	}
	content.WriteString("ET\n")
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(content.Bytes())
	zw.Close()
	var out bytes.Buffer
	out.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	out.WriteString("2 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Length1 5 >>\nstream\nxxxxx\nendstream\nendobj\n")
	fmt.Fprintf(&out, "3 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", z.Len())
	out.Write(z.Bytes())
	out.WriteString("\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	return out.Bytes()
}
