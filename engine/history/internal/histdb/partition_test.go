package histdb_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/history/internal/synth"
	"github.com/syncd/syncd/workspace"
)

// wholeRebuild is what a rebuild of every sighting at once gives, with
// the given key cap: the reference the partitioned rebuild must equal.
func wholeRebuild(t testing.TB, cat *workspace.Catalog, keyCap int) []workspace.Document {
	t.Helper()
	in, err := engine.HistoryInput(context.Background(), cat)
	if err != nil {
		t.Fatal(err)
	}
	in.KeyCap = keyCap
	docs, err := engine.HistoryDocuments(history.Rebuild(in))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestPartitionedEqualsWhole: the history stored by rebuilding one
// component at a time, synced in steps and pinned between them, is the
// history one rebuild of every sighting gives; with a small key cap (so
// that name families, threads and text bands are capped and components
// come apart as a key crosses the cap) and with the default one. Without
// the race detector (make test runs it so) the default cap runs on a
// store of 6,000 documents of up to 3 versions (about 90,000 sightings;
// HISTDB_DOCS sets the number), the small cap on 1,500 of up to 12; with
// -short or under the race detector both run on 300 of up to 12.
func TestPartitionedEqualsWhole(t *testing.T) {
	for _, keyCap := range []int{8, history.DefaultKeyCap} {
		docs, versions := 1500, 12
		if keyCap == history.DefaultKeyCap {
			docs, versions = 6000, 3
			if s := os.Getenv("HISTDB_DOCS"); s != "" {
				docs, _ = strconv.Atoi(s)
			}
		}
		if testing.Short() || raceEnabled {
			docs, versions = 300, 12
		}
		// With the habits of issue 22: the time corrections must decide in a
		// component as in the whole catalog.
		in, _ := synth.Generate(synth.Config{Seed: 21, Docs: docs, MaxVersions: versions, Logos: true, Habits: true})
		t.Run(fmt.Sprintf("cap=%d", keyCap), func(t *testing.T) {
			ctx := context.Background()
			cat := openCatalog(t, "part.db")
			e := &engine.Engine{Catalog: cat, KeyCap: keyCap}
			cuts := []int{len(in.Sightings) / 2, len(in.Sightings) * 98 / 100, len(in.Sightings)}
			lo := 0
			var capped int
			for step, cut := range cuts {
				store(t, cat, in, in.Sightings[lo:cut])
				lo = cut
				if step == 1 {
					pinAcross(t, cat, in)
				}
				start := time.Now()
				st, err := e.RebuildStats(ctx, false)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("step %d: %d sightings, %+v in %v", step+1, cut, st, time.Since(start).Round(time.Millisecond))
				if step == len(cuts)-1 && st.Full {
					t.Errorf("step %d: a sync of %d sightings rebuilt every component", step+1, cut-cuts[step-1])
				}
				capped = st.Capped
			}
			if keyCap < 100 && capped == 0 {
				t.Fatalf("cap %d: no key was capped; the test does not exercise caps", keyCap)
			}
			sameHistory(t, "partitioned rebuild in steps differs from a whole rebuild", stored(t, cat), wholeRebuild(t, cat, keyCap))
			st, err := e.RebuildStats(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if st.Diff.Written != 0 || st.Diff.Removed != 0 {
				t.Errorf("a full rebuild after incremental ones changed %d and removed %d documents", st.Diff.Written, st.Diff.Removed)
			}
		})
	}
}

// pinAcross pins two merges and a split between blobs of different
// documents (the first sightings' blobs of unrelated names).
func pinAcross(t testing.TB, cat *workspace.Catalog, in history.Input) {
	t.Helper()
	ctx := context.Background()
	var blobs []string
	seen := map[string]bool{}
	for _, s := range in.Sightings {
		if !seen[s.Blob] && len(blobs) < 6 {
			seen[s.Blob] = true
			blobs = append(blobs, s.Blob)
		}
	}
	for _, p := range []struct {
		kind string
		args engine.PinArgs
	}{
		{history.PinMerge, engine.PinArgs{Blob: blobs[0], Blobs: []string{blobs[5]}}},
		{history.PinSplit, engine.PinArgs{Blob: blobs[1], Blobs: []string{blobs[4]}}},
		{history.PinMerge, engine.PinArgs{Blob: blobs[2], Blobs: []string{blobs[3]}}},
	} {
		if _, err := cat.AddPin(ctx, p.kind, p.args, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInterruptedRebuildResumes: a rebuild stopped after its first batch
// of components leaves the rest marked dirty; the next rebuild finishes
// the work, and the stored history is the whole-catalog rebuild's.
func TestInterruptedRebuildResumes(t *testing.T) {
	docs := 1500
	if raceEnabled {
		docs = 250
	}
	in, _ := synth.Generate(synth.Config{Seed: 4, Docs: docs, MaxVersions: 12})
	for _, full := range []bool{true, false} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			cat := openCatalog(t, "stop.db")
			e := &engine.Engine{Catalog: cat, RebuildBatch: 100}
			first := len(in.Sightings) * 9 / 10
			if full {
				first = len(in.Sightings)
			}
			store(t, cat, in, in.Sightings[:first])
			if !full {
				if err := e.Rebuild(context.Background()); err != nil {
					t.Fatal(err)
				}
				store(t, cat, in, in.Sightings[first:])
			}
			ctx, cancel := context.WithCancel(context.Background())
			batches := 0
			e.OnRebuildBatch = func(engine.RebuildStats) { batches++; cancel() }
			_, err := e.RebuildStats(ctx, false)
			if err == nil || batches != 1 {
				t.Fatalf("a rebuild cancelled after its first batch: %d batches, error %v", batches, err)
			}
			idx, err := cat.HistoryIndex(context.Background())
			if err != nil || idx.Dirty == 0 && !idx.Full {
				t.Fatalf("after the interruption nothing is left to do: %+v %v", idx, err)
			}
			e.OnRebuildBatch = nil
			st, err := e.RebuildStats(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if st.Components == 0 {
				t.Fatal("the next rebuild did nothing")
			}
			sameHistory(t, "after an interrupted rebuild and the next one", stored(t, cat), wholeRebuild(t, cat, 0))
			if idx, err := cat.HistoryIndex(context.Background()); err != nil || idx.Dirty != 0 || idx.Full || idx.Pending {
				t.Fatalf("work left after the rebuild that finished: %+v %v", idx, err)
			}
		})
	}
}

// TestNothingKeptBetweenRebuilds: the live heap after a rebuild of a
// catalog is what it was before (within 2 MB; its 25,000 sightings alone
// take about 20 MB, 10,000 under the race detector): a daemon holds no
// catalog-sized state between runs.
func TestNothingKeptBetweenRebuilds(t *testing.T) {
	docs := 2000
	if raceEnabled {
		docs = 800
	}
	in, _ := synth.Generate(synth.Config{Seed: 9, Docs: docs, MaxVersions: 12})
	cat := openCatalog(t, "heap.db")
	store(t, cat, in, in.Sightings)
	e := &engine.Engine{Catalog: cat}
	live := func() int64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := live()
	if err := e.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := live()
	runtime.KeepAlive(in)
	if grew := after - before; grew > 2<<20 {
		t.Errorf("the live heap grew by %d KB over a rebuild of %d sightings", grew>>10, len(in.Sightings))
	}
	t.Logf("live heap before %d KB, after %d KB (%d sightings)", before>>10, after>>10, len(in.Sightings))
}

// TestConcurrentRebuilds: rebuilds that run while others index and store
// (two jobs of a daemon ending together; a sync beside 'syncd history
// rebuild') take turns: when the last one ends, the stored history is the
// whole-catalog rebuild's and nothing is left dirty.
func TestConcurrentRebuilds(t *testing.T) {
	docs := 600
	if raceEnabled {
		docs = 150
	}
	in, _ := synth.Generate(synth.Config{Seed: 6, Docs: docs, MaxVersions: 12})
	cat := openCatalog(t, "both.db")
	ctx := context.Background()
	store(t, cat, in, in.Sightings[:len(in.Sightings)/2])
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(2)
	go func() { // a job: stores a step, rebuilds, four times
		defer wg.Done()
		e := &engine.Engine{Catalog: cat}
		rest := in.Sightings[len(in.Sightings)/2:]
		for i := range 4 {
			store(t, cat, in, rest[i*len(rest)/4:(i+1)*len(rest)/4])
			errs <- e.Rebuild(ctx)
		}
	}()
	go func() { // another job, or a person, rebuilding meanwhile
		defer wg.Done()
		e := &engine.Engine{Catalog: cat}
		for range 4 {
			errs <- e.Rebuild(ctx)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sameHistory(t, "after concurrent rebuilds", stored(t, cat), wholeRebuild(t, cat, 0))
	if idx, err := cat.HistoryIndex(ctx); err != nil || idx.Dirty != 0 || idx.Pending {
		t.Fatalf("work left after the rebuilds: %+v %v", idx, err)
	}
}
