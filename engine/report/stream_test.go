package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/workspace"
	"github.com/syncd/syncd/workspace/historytest"
)

var (
	storesOnce sync.Once
	storeDirs  [2]string
	storeRuns  [2]int64
)

// streamStores are two stores of N and 10N documents, filled once per
// test binary (shrunk under -short).
func streamStores(t *testing.T) [2]int {
	sizes := [2]int{400, 4000}
	if testing.Short() || raceEnabled {
		sizes = [2]int{150, 1500}
	}
	storesOnce.Do(func() {
		for i, n := range sizes {
			dir, err := os.MkdirTemp("", "report-stream-")
			if err != nil {
				t.Fatal(err)
			}
			cat, err := workspace.Open(context.Background(), filepath.Join(dir, "catalog.db"), workspace.Options{})
			if err != nil {
				t.Fatal(err)
			}
			storeRuns[i] = historytest.Fill(t, cat, n, nil)
			cat.Close()
			storeDirs[i] = dir
		}
	})
	return sizes
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range storeDirs {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapWriter measures the live heap every so many writes.
type heapWriter struct {
	writes, every int
	base, max     uint64
}

func (h *heapWriter) Write(p []byte) (int, error) {
	h.writes++
	if h.writes%h.every == 0 {
		if l := liveHeap(); l > h.base && l-h.base > h.max {
			h.max = l - h.base
		}
	}
	return len(p), nil
}

// TestReportMemoryIsBounded builds and writes the report of a store of N
// and of 10N documents: the report held after Build and the live heap
// while plan.json and documents.csv are written must not grow with the
// store (a report holding every document grows ten times). The lists
// still hold every document, fork and conflict.
func TestReportMemoryIsBounded(t *testing.T) {
	sizes := streamStores(t)
	ctx := context.Background()
	var held, writing [2]uint64
	for i, dir := range storeDirs {
		cat, err := workspace.Open(ctx, filepath.Join(dir, "catalog.db"), workspace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		run, err := cat.GetRun(ctx, storeRuns[i])
		if err != nil {
			t.Fatal(err)
		}
		base := liveHeap()
		r, err := report.Build(ctx, cat, []report.Run{report.FromStored(run)})
		if err != nil {
			t.Fatal(err)
		}
		if h := liveHeap(); h > base {
			held[i] = h - base
		}
		if r.Documents.Len != int64(sizes[i]) || r.Totals.Forks == 0 || r.Totals.Conflicts == 0 {
			t.Fatalf("store of %d: report of %d documents, %d forks, %d conflicts", sizes[i], r.Documents.Len, r.Totals.Forks, r.Totals.Conflicts)
		}
		for _, format := range []string{report.FormatJSON, report.FormatDocuments} {
			w := &heapWriter{every: 100, base: liveHeap()}
			if err := report.Write(w, r, format); err != nil {
				t.Fatal(err)
			}
			writing[i] = max(writing[i], w.max)
		}
		// Every document, fork and conflict is in plan.json.
		var buf bytes.Buffer
		if err := report.WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Documents []json.RawMessage `json:"documents"`
			Forks     []json.RawMessage `json:"forks"`
			Conflicts []json.RawMessage `json:"conflicts"`
		}
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Documents) != sizes[i] || int64(len(got.Forks)) != r.Totals.Forks || int64(len(got.Conflicts)) != r.Totals.Conflicts {
			t.Fatalf("plan.json: %d documents, %d forks, %d conflicts; want %d, %d, %d", len(got.Documents), len(got.Forks), len(got.Conflicts),
				sizes[i], r.Totals.Forks, r.Totals.Conflicts)
		}
		// The page shows the first documents and links the files with all.
		var page bytes.Buffer
		if err := report.WriteHTML(&page, r); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`<a href="documents.csv">documents.csv</a>`, `<a href="plan.json">plan.json</a>`} {
			if !strings.Contains(page.String(), want) {
				t.Fatalf("store of %d: the page does not link %s", sizes[i], want)
			}
		}
		cat.Close()
	}
	t.Logf("held after Build: %d B (%d docs), %d B (%d docs); writing: %d B, %d B", held[0], sizes[0], held[1], sizes[1], writing[0], writing[1])
	if held[1] > 2*held[0]+512<<10 || writing[1] > 2*writing[0]+512<<10 {
		t.Fatalf("the report grows with the store: held %d then %d bytes, writing %d then %d bytes, for %d then %d documents",
			held[0], held[1], writing[0], writing[1], sizes[0], sizes[1])
	}
}
