package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
	"github.com/syncd/syncd/workspace/historytest"
)

func openCatalog(t testing.TB, dir string) *workspace.Catalog {
	t.Helper()
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// wholeExport is the export as it was made before it streamed: the whole
// history and every sighting loaded, then one json.Encoder.
func wholeExport(t *testing.T, cat *workspace.Catalog) []byte {
	t.Helper()
	res, sightings, err := engine.LoadHistory(context.Background(), cat)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", " ")
	if err := enc.Encode(history.Export(res, sightings)); err != nil {
		t.Fatal(err)
	}
	return want.Bytes()
}

// TestStreamedExportIsTheWholeExport: ExportJSON, one document at a time,
// writes the bytes history.Export over the whole loaded store gives, on
// an empty store and on one with mail, share and SharePoint copies, gone
// copies, forks and names with HTML characters.
func TestStreamedExportIsTheWholeExport(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 400} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cat := openCatalog(t, t.TempDir())
			defer cat.Close()
			if n > 0 {
				historytest.Fill(t, cat, n, nil)
			}
			var got bytes.Buffer
			if err := engine.ExportJSON(ctx, cat, &got); err != nil {
				t.Fatal(err)
			}
			want := wholeExport(t, cat)
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("streamed export differs:\ngot  %.600s\nwant %.600s", got.String(), want)
			}
			var doc history.ExportDoc
			if err := json.Unmarshal(got.Bytes(), &doc); err != nil || len(doc.Documents) != n {
				t.Fatalf("export holds %d documents (%v), want %d", len(doc.Documents), err, n)
			}
			if n > 100 && (!strings.Contains(got.String(), `"gone"`) || !strings.Contains(got.String(), `"message_id"`) || !strings.Contains(got.String(), `"item_id"`)) {
				t.Fatalf("the export lacks gone, mail or SharePoint copies:\n%.600s", got.String())
			}
		})
	}
}

// heapSampler is a writer that measures the live heap every so many
// writes; max is the most it grew above base.
type heapSampler struct {
	writes, every int
	base, max     uint64
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (h *heapSampler) Write(p []byte) (int, error) {
	h.writes++
	if h.writes%h.every == 0 {
		if l := liveHeap(); l > h.base && l-h.base > h.max {
			h.max = l - h.base
		}
	}
	return len(p), nil
}

var (
	boundedOnce sync.Once
	boundedDirs [2]string
)

// boundedStores are two stores of N and 10N documents, filled once per
// test binary (shrunk under -short).
func boundedStores(t *testing.T) ([2]string, [2]int) {
	sizes := [2]int{500, 5000}
	if testing.Short() {
		sizes = [2]int{150, 1500}
	}
	boundedOnce.Do(func() {
		for i, n := range sizes {
			dir, err := os.MkdirTemp("", "export-bounded-")
			if err != nil {
				t.Fatal(err)
			}
			cat := openCatalog(t, dir)
			historytest.Fill(t, cat, n, nil)
			cat.Close()
			boundedDirs[i] = dir
		}
	})
	return boundedDirs, sizes
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range append(boundedDirs[:], treeBoundedDirs[:]...) {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// TestExportJSONMemoryIsBounded exports a store of N and one of 10N
// documents, measuring the live heap as the bytes go out: it must not
// grow with the store (loading the history whole grows it ten times).
func TestExportJSONMemoryIsBounded(t *testing.T) {
	dirs, sizes := boundedStores(t)
	var grew [2]uint64
	for i, dir := range dirs {
		cat := openCatalog(t, dir)
		h := &heapSampler{every: 50}
		h.base = liveHeap()
		err := engine.ExportJSON(context.Background(), cat, h)
		cat.Close()
		if err != nil {
			t.Fatal(err)
		}
		if h.writes < 10 {
			t.Fatalf("store of %d documents: %d writes, too few to sample", sizes[i], h.writes)
		}
		grew[i] = h.max
	}
	if grew[1] > 2*grew[0]+512<<10 {
		t.Fatalf("live heap grew %d bytes exporting %d documents and %d bytes for %d: it grows with the store", grew[0], sizes[0], grew[1], sizes[1])
	}
	t.Logf("live heap growth: %d B (%d docs), %d B (%d docs)", grew[0], sizes[0], grew[1], sizes[1])
}
