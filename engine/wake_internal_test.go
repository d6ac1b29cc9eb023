package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// A worker with nothing to claim while the process's own workers still
// run units waits for them, not for the next look at the catalog: a run
// ends when its last unit does. (Each run of a one-source job used to end
// up to lockPoll, 200 ms, after its source: the other three workers were
// asleep in waitPoll.) The poll is set to an hour here, so the run ends
// only if the workers are woken.
func TestWorkersWakeWhenAUnitEnds(t *testing.T) {
	old := lockPoll
	lockPoll = time.Hour
	t.Cleanup(func() { lockPoll = old })

	dir := t.TempDir()
	ctx := context.Background()
	cat, err := workspace.Open(ctx, filepath.Join(dir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	blobs, err := dedupe.OpenDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	srcs := map[string]*memory.Source{}
	job := &Job{Name: "docs", Workspace: "ws", Parallel: 4}
	for _, name := range []string{"a", "b", "c"} {
		src := memory.New(name)
		src.Put(memory.File{Path: name + "/report.txt", Data: []byte("the report of " + name), ModTime: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)})
		srcs[name] = src
		job.Sources = append(job.Sources, SourceConfig{Name: name, Type: "memory"})
	}
	e := &Engine{Catalog: cat, Blobs: blobs, Open: func(c connectors.Config) (connectors.Source, error) {
		return srcs[c.Name], nil
	}}
	// A watchdog, not a timing: the run takes milliseconds; without the
	// wake-up it would sleep an hour.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for run := 1; run <= 2; run++ {
		res, err := e.RunJob(wctx, filepath.Join(dir, "syncd.yaml"), job)
		if err != nil {
			t.Fatalf("run %d: %v (workers slept in the poll instead of being woken)", run, err)
		}
		if want := 3 * (2 - run); int(res.Counts.New) != want {
			t.Errorf("run %d: %d new, want %d", run, res.Counts.New, want)
		}
	}
}
