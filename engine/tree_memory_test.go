package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// treeContent is the content of document i's version v.
func treeContent(i, v int) string { return fmt.Sprintf("tree document %d version %d\n", i, v) }

// fillTreeStore stores n documents in folders of ten (two workspaces,
// 1-2 versions, one share copy each), with their blobs in blobs.
func fillTreeStore(t *testing.T, cat *workspace.Catalog, blobs dedupe.BlobStore, n int) {
	ctx := context.Background()
	run, err := cat.StartRun(ctx, "job", "sync")
	if err != nil {
		t.Fatal(err)
	}
	place := func(i int) (string, string, string) {
		return fmt.Sprintf("ws%d", i%2), fmt.Sprintf("Dept %d/Folder %04d", i%7, i/10), fmt.Sprintf("Report %d.docx", i%4)
	}
	b := &workspace.Batch{RunID: run}
	for i := range n {
		ws, folder, name := place(i)
		for v := range 1 + i%2 {
			sums, err := blobs.Put(ctx, strings.NewReader(treeContent(i, v)))
			if err != nil {
				t.Fatal(err)
			}
			b.Blobs = append(b.Blobs, workspace.Blob{Sums: sums, Sketched: true})
			b.Sightings = append(b.Sightings, workspace.Sighting{Source: "share", Kind: "share", Ref: fmt.Sprintf("%d/%d", i, v),
				Fingerprint: "f", Blob: sums.ID, Name: name, Path: folder, Size: sums.Size, Workspace: ws, Folder: folder, RunID: run,
				Time: time.Date(2024, 1, 1, 9+v, 0, 0, 0, time.UTC), Lineage: connectors.Lineage{Kind: "share"}})
		}
		if len(b.Sightings) >= 2000 || i == n-1 {
			if _, err := cat.Commit(ctx, b); err != nil {
				t.Fatal(err)
			}
			b = &workspace.Batch{RunID: run}
		}
	}
	ids := map[string]int64{}
	if err := cat.EachSighting(ctx, func(s workspace.Sighting) error { ids[s.Ref] = s.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	docs := make([]workspace.Document, 0, n)
	for i := range n {
		ws, folder, name := place(i)
		d := workspace.Document{Key: fmt.Sprintf("d-%016x", uint64(i+1)*0x9e3779b97f4a7c15), Workspace: ws, Folder: folder, Name: name}
		for v := range 1 + i%2 {
			sums, _ := dedupe.HashReader(strings.NewReader(treeContent(i, v)))
			d.Versions = append(d.Versions, workspace.Version{Key: fmt.Sprintf("v%d.%d", i, v), Blob: sums.ID, Seq: v + 1,
				Time: time.Date(2024, 1, 1, 9+v, 0, 0, 0, time.UTC), Sightings: []int64{ids[fmt.Sprintf("%d/%d", i, v)]}})
		}
		docs = append(docs, d)
	}
	if err := cat.ReplaceHistory(ctx, docs); err != nil {
		t.Fatal(err)
	}
}

// heapAtOpen is a blob store that measures the live heap when the export
// opens its at-th blob.
type heapAtOpen struct {
	dedupe.BlobStore
	opens, at  int
	base, grew uint64
}

func (h *heapAtOpen) Open(ctx context.Context, id dedupe.ID) (io.ReadCloser, error) {
	if h.opens++; h.opens == h.at {
		if l := liveHeap(); l > h.base {
			h.grew = l - h.base
		}
	}
	return h.BlobStore.Open(ctx, id)
}

var (
	treeBoundedOnce  sync.Once
	treeBoundedDirs  [2]string
	treeBoundedBlobs [2]*dedupe.Mem
)

// TestTreeExportMemoryIsBounded exports a store of N and one of 10N
// documents (folders of ten) and measures the live heap halfway through
// each export: it must not grow with the store. Loading every document
// and a map of every sighting, as the export did, grows it ten times.
func TestTreeExportMemoryIsBounded(t *testing.T) {
	sizes := [2]int{500, 5000}
	if testing.Short() || raceEnabled {
		sizes = [2]int{150, 1500}
	}
	treeBoundedOnce.Do(func() {
		for i, n := range sizes {
			dir, err := os.MkdirTemp("", "tree-bounded-")
			if err != nil {
				t.Fatal(err)
			}
			treeBoundedDirs[i] = dir
			treeBoundedBlobs[i] = dedupe.NewMem()
			cat := openCatalog(t, dir)
			fillTreeStore(t, cat, treeBoundedBlobs[i], n)
			cat.Close()
		}
	})
	var grew [2]uint64
	for i, dir := range treeBoundedDirs {
		if dir == "" {
			t.Fatal("store not filled")
		}
		cat := openCatalog(t, dir)
		files := sizes[i] + sizes[i]/2
		h := &heapAtOpen{BlobStore: treeBoundedBlobs[i], at: files / 2}
		h.base = liveHeap()
		st, err := engine.ExportTree(context.Background(), cat, h, t.TempDir())
		cat.Close()
		if err != nil || len(st.Problems) > 0 {
			t.Fatalf("export of %d documents: %v %q", sizes[i], err, st.Problems)
		}
		if st.Files != files || st.Written != files || h.opens != files {
			t.Fatalf("export of %d documents: %+v, %d blobs opened, want %d files", sizes[i], st, h.opens, files)
		}
		grew[i] = h.grew
	}
	// 10x the documents: allow 2x the growth plus 256 KiB of noise.
	if grew[1] > 2*grew[0]+256<<10 {
		t.Fatalf("live heap halfway grew %d bytes for %d documents and %d for %d: it grows with the store", grew[0], sizes[0], grew[1], sizes[1])
	}
	t.Logf("live heap growth halfway: %d B (%d docs), %d B (%d docs)", grew[0], sizes[0], grew[1], sizes[1])
}
