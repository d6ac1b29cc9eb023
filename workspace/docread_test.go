package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
)

// fillHistory stores n documents (1-3 versions each, 1-2 sightings per
// version, three workspaces, parents on later versions) with their
// sightings, through Commit and ReplaceHistory.
func fillHistory(t testing.TB, c *Catalog, n int) {
	t.Helper()
	ctx := context.Background()
	run, err := c.StartRun(ctx, "job", "sync")
	if err != nil {
		t.Fatal(err)
	}
	type ver struct {
		doc, v int
		blob   dedupe.ID
		refs   []string
	}
	var vers []ver
	b := &Batch{RunID: run}
	flush := func() {
		if _, err := c.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		b = &Batch{RunID: run}
	}
	for i := range n {
		for v := range 1 + i%3 {
			sums, _ := dedupe.HashReader(strings.NewReader(fmt.Sprintf("document %d version %d", i, v)))
			b.Blobs = append(b.Blobs, Blob{Sums: sums, Sketched: true})
			vr := ver{doc: i, v: v, blob: sums.ID}
			for k := range 1 + (i+v)%2 {
				ref := fmt.Sprintf("doc%d/v%d/copy%d", i, v, k)
				vr.refs = append(vr.refs, ref)
				b.Sightings = append(b.Sightings, Sighting{Source: "share", Kind: "share", Ref: ref, Fingerprint: "f", Blob: sums.ID,
					Name: fmt.Sprintf("Report %d.docx", i), Path: fmt.Sprintf("folder%d", i%7), Size: int64(100 + i),
					Time: time.Date(2024, 1, 1+v, 0, 0, 0, 0, time.UTC), Author: "alice", Workspace: fmt.Sprintf("ws%d", i%3),
					Folder: fmt.Sprintf("folder%d", i%7), Lineage: connectors.Lineage{Kind: "share"}, RunID: run})
			}
			vers = append(vers, vr)
		}
		if len(b.Sightings) >= 2000 {
			flush()
		}
	}
	flush()
	ids := map[string]int64{}
	if err := c.EachSighting(ctx, func(s Sighting) error { ids[s.Ref] = s.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	var docs []Document
	for _, vr := range vers {
		if vr.v == 0 {
			docs = append(docs, Document{Key: fmt.Sprintf("d-%016x", uint64(vr.doc)*0x9e3779b97f4a7c15), Workspace: fmt.Sprintf("ws%d", vr.doc%3),
				Folder: fmt.Sprintf("folder%d", vr.doc%7), Name: fmt.Sprintf("Report %d.docx", vr.doc)})
		}
		d := &docs[len(docs)-1]
		v := Version{Key: fmt.Sprintf("v-%d-%d", vr.doc, vr.v), Blob: vr.blob, Seq: vr.v + 1, Time: time.Date(2024, 1, 1+vr.v, 0, 0, 0, 0, time.UTC), Author: "alice"}
		if vr.v > 0 {
			v.Parents = []Link{{Parent: fmt.Sprintf("v-%d-%d", vr.doc, vr.v-1), Reason: "name-family", Confidence: 0.75}}
		}
		for k := len(vr.refs) - 1; k >= 0; k-- { // ids out of order: the reader sorts them
			v.Sightings = append(v.Sightings, ids[vr.refs[k]])
		}
		d.Versions = append(d.Versions, v)
	}
	if err := c.ReplaceHistory(ctx, docs); err != nil {
		t.Fatal(err)
	}
}

func openFilled(t testing.TB, n int) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fillHistory(t, c, n)
	return c
}

// TestEachDocumentIsDocuments: the streaming readers hand out exactly
// what Documents loads, in the same order, with each document's own
// sightings.
func TestEachDocumentIsDocuments(t *testing.T) {
	ctx := context.Background()
	c := openFilled(t, 60)
	want, err := c.Documents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []Document
	if err := c.EachDocument(ctx, func(d Document) error { got = append(got, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(want) != 60 || !reflect.DeepEqual(got, want) {
		t.Fatalf("EachDocument differs from Documents: %d vs %d documents", len(got), len(want))
	}
	all := map[int64]Sighting{}
	if err := c.EachSighting(ctx, func(s Sighting) error { all[s.ID] = s; return nil }); err != nil {
		t.Fatal(err)
	}
	check := func(what string, d Document, ss []Sighting) {
		var ids []int64
		for _, v := range d.Versions {
			ids = append(ids, v.Sightings...)
		}
		if len(ss) != len(ids) {
			t.Fatalf("%s %s: %d sightings for %d ids", what, d.Key, len(ss), len(ids))
		}
		for i, s := range ss {
			if i > 0 && ss[i-1].ID >= s.ID {
				t.Fatalf("%s %s: sightings not in id order", what, d.Key)
			}
			if !reflect.DeepEqual(s, all[s.ID]) {
				t.Fatalf("%s %s: sighting %d is %+v, want %+v", what, d.Key, s.ID, s, all[s.ID])
			}
		}
	}
	got = nil
	err = c.EachDocumentSightings(ctx, DocFilter{}, func(d Document, ss []Sighting) error {
		check("EachDocumentSightings", d, ss)
		got = append(got, d)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("EachDocumentSightings differs from Documents (%v)", err)
	}
	for _, w := range want {
		d, ss, ok, err := c.DocumentByKey(ctx, w.Key)
		if err != nil || !ok || !reflect.DeepEqual(d, w) {
			t.Fatalf("DocumentByKey(%s) = %+v, %v, %v; want %+v", w.Key, d, ok, err, w)
		}
		check("DocumentByKey", d, ss)
	}
	if _, _, ok, err := c.DocumentByKey(ctx, "d-none"); ok || err != nil {
		t.Fatalf("DocumentByKey of no document: %v, %v", ok, err)
	}
	// Filtered: one workspace, then two of its folders.
	var ws1 []Document
	for _, d := range want {
		if d.Workspace == "ws1" {
			ws1 = append(ws1, d)
		}
	}
	got = nil
	if err := c.EachDocumentIn(ctx, DocFilter{Workspace: "ws1"}, func(d Document) error { got = append(got, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ws1) == 0 || !reflect.DeepEqual(got, ws1) {
		t.Fatalf("workspace ws1: %d documents, want %d", len(got), len(ws1))
	}
	var sub []Document
	for _, d := range ws1 {
		if d.Folder == "folder1" || d.Folder == "folder4" {
			sub = append(sub, d)
		}
	}
	got = nil
	if err := c.EachDocumentIn(ctx, DocFilter{Workspace: "ws1", Folders: []string{"folder4", "folder1"}}, func(d Document) error { got = append(got, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(sub) == 0 || !reflect.DeepEqual(got, sub) {
		t.Fatalf("ws1 folders 1 and 4: %d documents, want %d", len(got), len(sub))
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

var (
	boundedOnce  sync.Once
	boundedCats  [2]*Catalog
	boundedDir   string
	boundedSizes = [2]int{1000, 10000}
)

// TestMain removes the stores the memory test keeps between its runs
// (-count=N fills them once).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range boundedCats {
		if c != nil {
			c.Close()
		}
	}
	if boundedDir != "" {
		os.RemoveAll(boundedDir)
	}
	os.Exit(code)
}

// TestEachDocumentMemoryIsBounded reads a store of N and one of 10N
// documents and measures the live heap halfway through each read: it
// must not grow with the store (a reader holding every document grows
// ten times over). The hook also checks that one document is handed out
// at a time, with only its own sightings.
func TestEachDocumentMemoryIsBounded(t *testing.T) {
	sizes := boundedSizes
	if testing.Short() {
		sizes = [2]int{300, 3000}
	}
	boundedOnce.Do(func() {
		var err error
		if boundedDir, err = os.MkdirTemp("", "docread-"); err != nil {
			t.Fatal(err)
		}
		for i, n := range sizes {
			c, err := Open(context.Background(), filepath.Join(boundedDir, fmt.Sprint(i), "catalog.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			fillHistory(t, c, n)
			boundedCats[i] = c
		}
	})
	ctx := context.Background()
	var grew [2]uint64
	for i, c := range boundedCats {
		n := sizes[i]
		seen, maxSightings := 0, 0
		onDocument = func(d *Document, s int) { maxSightings = max(maxSightings, s) }
		base := liveHeap()
		err := c.EachDocumentSightings(ctx, DocFilter{}, func(d Document, ss []Sighting) error {
			seen++
			if seen == n/2 {
				if h := liveHeap(); h > base {
					grew[i] = h - base
				}
			}
			return nil
		})
		onDocument = nil
		if err != nil {
			t.Fatal(err)
		}
		if seen != n || maxSightings > 6 {
			t.Fatalf("store of %d: %d documents read, up to %d sightings at once (want 6 at most)", n, seen, maxSightings)
		}
	}
	// 10x the documents: allow 2x the growth plus 256 KiB of noise.
	if grew[1] > 2*grew[0]+256<<10 {
		t.Fatalf("live heap halfway grew %d bytes for %d documents and %d for %d: it grows with the store", grew[0], sizes[0], grew[1], sizes[1])
	}
	t.Logf("live heap growth halfway: %d B (%d docs), %d B (%d docs)", grew[0], sizes[0], grew[1], sizes[1])
}
