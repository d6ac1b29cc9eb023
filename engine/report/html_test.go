package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine/report"
)

// TestHTMLEscapesHostileNames: a file named like a script shows as text.
func TestHTMLEscapesHostileNames(t *testing.T) {
	r := fixtureReport(t, 4)
	var b bytes.Buffer
	if err := report.WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, HostileName) || strings.Contains(strings.ToLower(page), "<script") {
		t.Error("report.html contains the hostile name unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;.docx") {
		t.Error("report.html does not show the hostile name as text")
	}
	if dir := os.Getenv("SYNCD_REPORT_OUT"); dir != "" {
		if err := report.WriteDir(dir, r); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", filepath.Join(dir, report.FileHTML))
	}
}
