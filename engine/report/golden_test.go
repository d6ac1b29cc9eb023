package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// stable renders the parts of a report that must not vary between two
// plans of the same sources and store.
func stable(t *testing.T, r *report.Report) map[string][]byte {
	t.Helper()
	s := r.WithoutVolatile()
	out := map[string][]byte{}
	for name, format := range map[string]string{"plan.json": report.FormatJSON, "items.csv": report.FormatCSV, "documents.csv": report.FormatDocuments} {
		var b bytes.Buffer
		if err := report.Write(&b, s, format); err != nil {
			t.Fatal(err)
		}
		out[name] = b.Bytes()
	}
	return out
}

func TestGolden(t *testing.T) {
	got := stable(t, fixtureReport(t, 1))
	for name, b := range got {
		golden := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(golden, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, golden, firstDiff(string(want), string(b)))
		}
	}
}

// docID matches history's document ids.
var docID = regexp.MustCompile(`d-[0-9a-f]{16}`)

// TestDeterministic plans the same data in fresh stores with concurrent
// fetches: the stable part of the plan must be byte-identical however the
// fetches finished. Document ids are masked: history derives them from the
// lowest sighting id of a document, and sighting ids follow the order in
// which concurrent fetches finish (an engine/history matter, not the
// report's).
func TestDeterministic(t *testing.T) {
	a := stable(t, fixtureReport(t, 8))
	for i := 0; i < 3; i++ {
		b := stable(t, fixtureReport(t, 8))
		for name := range a {
			a[name], b[name] = docID.ReplaceAll(a[name], []byte("d-*")), docID.ReplaceAll(b[name], []byte("d-*"))
			if !bytes.Equal(a[name], b[name]) {
				t.Fatalf("%s differs between two plans of the same data:\n%s", name, firstDiff(string(a[name]), string(b[name])))
			}
		}
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + w + "\n  got: " + g
		}
	}
	return "(no line differs)"
}

// WriteJSON streams the report a list element at a time; its bytes are
// those of one json.Encoder call over the whole report, for a full report
// (volatile parts too), an empty one (nil lists: null) and one whose lists
// are empty but not nil ([]).
func TestWriteJSONIsTheEncodersOutput(t *testing.T) {
	full := fixtureReport(t, 1)
	empty := &report.Report{Jobs: []string{}, Items: report.ListOf([]report.Item{}), Documents: report.DocumentsOf([]report.Document{}), Sources: []report.SourceTotal{}}
	for name, r := range map[string]*report.Report{"full": full, "zero": {}, "empty lists": empty} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := report.WriteJSON(&got, r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: WriteJSON differs from json.Encoder:\n%s", name, firstDiff(want.String(), got.String()))
		}
	}
	if full.Items.Len == 0 || full.Documents.Len == 0 {
		t.Fatal("the fixture report has no items or documents to stream")
	}
}
