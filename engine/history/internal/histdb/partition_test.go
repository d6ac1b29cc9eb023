package histdb_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
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
// come apart as a key crosses the cap) and with the default one. The
// store has HISTDB_DOCS documents (default 20,000; 2,000 with -short).
func TestPartitionedEqualsWhole(t *testing.T) {
	docs := 20000
	if testing.Short() {
		docs = 2000
	}
	if s := os.Getenv("HISTDB_DOCS"); s != "" {
		docs, _ = strconv.Atoi(s)
	}
	in, _ := synth.Generate(synth.Config{Seed: 21, Docs: docs, MaxVersions: 12, Logos: true})
	for _, keyCap := range []int{8, history.DefaultKeyCap} {
		t.Run(fmt.Sprintf("cap=%d", keyCap), func(t *testing.T) {
			ctx := context.Background()
			cat := openCatalog(t, "part.db")
			e := &engine.Engine{Catalog: cat, KeyCap: keyCap}
			cuts := []int{len(in.Sightings) / 2, len(in.Sightings) * 9 / 10, len(in.Sightings)}
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
