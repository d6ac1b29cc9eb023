package sharepoint

import (
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

// Files synced up from a Mac or a desktop's temp folder are skipped with
// their reason, once; the real file beside them is a document.
func TestNoiseInLibrary(t *testing.T) {
	f := newFake(t)
	t0 := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	for _, name := range []string{"._Plan.docx", "~WRL0001.tmp", "Thumbs.db", "Plan.docx"} {
		if _, err := f.AddFile(financeDocs, "Noise", name, graphfake.Bytes([]byte("bytes of "+name)), bob, t0); err != nil {
			t.Fatal(err)
		}
	}
	rec, cur := connectortest.Scan(t, newSource(t, f, ""), nil)
	got := map[string]string{}
	for _, it := range rec.Items {
		if it.Path == "Noise" {
			got[it.Name] = it.Skip
		}
	}
	want := map[string]string{"._Plan.docx": connectors.SkipAppleDouble, "~WRL0001.tmp": connectors.SkipTemporary,
		"Thumbs.db": connectors.SkipSystemFile, "Plan.docx": ""}
	if len(got) != len(want) {
		t.Errorf("items in Noise %v, want %v", got, want)
	}
	for name, skip := range want {
		if g, ok := got[name]; !ok || g != skip {
			t.Errorf("%s: skip %q (listed %v), want %q", name, g, ok, skip)
		}
	}
	if rec, _ := connectortest.Scan(t, newSource(t, f, ""), cur); len(rec.Items) != 0 {
		t.Errorf("rescan reported %d items, want the skips not repeated", len(rec.Items))
	}
}
