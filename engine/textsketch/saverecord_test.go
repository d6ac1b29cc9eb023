package textsketch

import (
	"testing"
	"time"
)

// TestSaveRecord: the document's own record of its last save is read from
// OOXML core properties and ODF meta; a missing, broken or implausible one
// leaves the fields zero and never fails the sketch.
func TestSaveRecord(t *testing.T) {
	body := `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Budget for the year</w:t></w:r></w:p></w:body></w:document>`
	core := func(inner string) map[string]string {
		return map[string]string{"[Content_Types].xml": "<Types/>", "word/document.xml": body,
			"docProps/core.xml": `<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + inner + `</cp:coreProperties>`}
	}
	for _, c := range []struct {
		name     string
		files    map[string]string
		modified time.Time
		revision int
	}{
		{"docx", core(`<cp:revision>7</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">2023-01-02T08:00:00Z</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">2024-03-05T10:11:12Z</dcterms:modified>`),
			time.Date(2024, 3, 5, 10, 11, 12, 0, time.UTC), 7},
		{"docx with a zone", core(`<dcterms:modified xsi:type="dcterms:W3CDTF">2024-03-05T11:11:12+01:00</dcterms:modified>`),
			time.Date(2024, 3, 5, 10, 11, 12, 0, time.UTC), 0},
		{"docx saved by a machine whose clock was never set", core(`<cp:revision>2</cp:revision><dcterms:modified>1601-01-01T00:00:00Z</dcterms:modified>`),
			time.Time{}, 2},
		{"docx with nonsense", core(`<cp:revision>many</cp:revision><dcterms:modified>yesterday</dcterms:modified>`), time.Time{}, 0},
		{"docx without properties", map[string]string{"[Content_Types].xml": "<Types/>", "word/document.xml": body}, time.Time{}, 0},
		{"docx with broken properties", map[string]string{"[Content_Types].xml": "<Types/>", "word/document.xml": body,
			"docProps/core.xml": "<cp:coreProperties><dcterms:modified>2024-03-05T10:11:12Z"}, time.Time{}, 0}, // cut off: unknown
		{"odt", map[string]string{"mimetype": "application/vnd.oasis.opendocument.text",
			"content.xml": `<office:document-content><office:body><office:text><text:p>Budget for the year</text:p></office:text></office:body></office:document-content>`,
			"meta.xml":    `<office:document-meta><office:meta><meta:editing-cycles>4</meta:editing-cycles><dc:date>2024-06-01T09:30:00.123456789</dc:date></office:meta></office:document-meta>`},
			time.Date(2024, 6, 1, 9, 30, 0, 123456789, time.UTC), 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "Budget.docx"
			if c.name == "odt" {
				name = "Budget.odt"
			}
			got := mustSketch(t, name, zipOf(t, c.files))
			if !got.Modified.Equal(c.modified) || got.Revision != c.revision {
				t.Errorf("modified %s revision %d, want %s %d", got.Modified, got.Revision, c.modified, c.revision)
			}
			if got.Tokens == 0 {
				t.Errorf("no text: the properties must not stop the text")
			}
		})
	}
}
