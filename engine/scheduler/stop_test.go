package scheduler_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/workspace"
)

const migJob = "jobs:\n  - name: mig\n    sources: [{name: drive, type: memory}]\n"

// gated returns an Open func whose source blocks after n items, closing
// reached when it gets there.
func gated(src *memory.Source, n int, reached chan struct{}) func(connectors.Config) (connectors.Source, error) {
	return func(connectors.Config) (connectors.Source, error) {
		return wrapped{Source: src, scan: func(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
			return src.Scan(ctx, cur, &gateSink{Sink: sink, n: n, reached: reached})
		}}, nil
	}
}

func waitClosed(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// storedItems closes done once want items have been stored (new or
// duplicate).
type storedItems struct {
	mu   sync.Mutex
	n    int
	want int
	done chan struct{}
}

func (s *storedItems) SourceStarted(string, string)                           {}
func (s *storedItems) SourceFinished(string, string, workspace.Counts, error) {}
func (s *storedItems) Counted(_, _ string, d workspace.Counts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range d.New + d.Duplicate {
		if s.n++; s.n == s.want {
			close(s.done)
		}
	}
}

func TestStopMidRunCommitsAndNextStartResumes(t *testing.T) {
	const total = 20
	st := newStore(t)
	src := seeded("drive", total)
	reached := make(chan struct{})
	ev := newEvents()
	eng := st.engine("d1", gated(src, 7, reached))
	stored := &storedItems{want: 7, done: make(chan struct{})}
	eng.Observer = stored
	s := scheduler.New(scheduler.Options{Runner: eng, Catalog: st.cat, OnEvent: ev.on})
	cfg := config(t, migJob)
	if err := s.Load(cfg); err != nil {
		t.Fatal(err)
	}
	s.Start()
	if err := s.Trigger("mig"); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, reached, "the run to be mid-way")
	// Checkpoints commit in the background once their downloads end; let
	// the 7 items emitted before the gate finish, then stop.
	waitClosed(t, stored.done, "the first 7 items to be stored")
	stop(t, s)
	e := ev.wait(t, "the interrupted run", outcome("mig", scheduler.OutcomeRan))
	if e.Result.Status != workspace.StatusInterrupted || !errors.Is(e.Err, context.Canceled) {
		t.Fatalf("stopped run: status %s err %v", e.Result.Status, e.Err)
	}
	run, _ := st.cat.GetRun(context.Background(), e.RunID)
	if run.Status != workspace.StatusInterrupted || run.Finished.IsZero() {
		t.Errorf("run record %+v, want interrupted and finished", run)
	}
	kept := countSightings(t, st.cat)
	if kept < 6 || kept > 7 {
		t.Fatalf("%d sightings kept after stop; want the 6 checkpointed (+ maybe the 7th)", kept)
	}

	// The next start resumes from the checkpoint.
	ev2 := newEvents()
	s2 := scheduler.New(scheduler.Options{Runner: st.engine("d2", func(connectors.Config) (connectors.Source, error) { return wrapped{Source: src}, nil }), OnEvent: ev2.on})
	if err := s2.Load(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s2.Trigger("mig"); err != nil {
		t.Fatal(err)
	}
	e2 := ev2.wait(t, "the resumed run", outcome("mig", scheduler.OutcomeRan))
	stop(t, s2)
	if e2.Result.Status != workspace.StatusOK || e2.Result.Counts.Fetched != int64(total-kept) {
		t.Errorf("resumed run: %s %v; want ok fetching only the %d not yet stored", e2.Result.Status, e2.Result.Counts, total-kept)
	}
	if n := countSightings(t, st.cat); n != total {
		t.Errorf("%d sightings after resume, want %d", n, total)
	}
	if probs, err := st.cat.Check(context.Background()); err != nil || len(probs) > 0 {
		t.Errorf("catalog check: %v %v", probs, err)
	}
}

func TestStopIsBounded(t *testing.T) {
	r := newFakeRunner(true)
	r.ignoreCtx = true // a job that does not honour cancellation
	t.Cleanup(func() { close(r.release) })
	s := scheduler.New(scheduler.Options{Runner: r})
	if err := s.Load(config(t, "jobs:\n  - name: stuck\n    sources: [{name: a, type: memory}]\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Trigger("stuck"); err != nil {
		t.Fatal(err)
	}
	<-r.started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("stop: %v, want deadline naming the stuck job", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
}

func TestTwoDaemonsDoNotRunOneJobTwice(t *testing.T) {
	st := newStore(t)
	src := seeded("drive", 10)
	reached := make(chan struct{})
	ev1, ev2 := newEvents(), newEvents()
	s1 := scheduler.New(scheduler.Options{Runner: st.engine("host:1", gated(src, 2, reached)), OnEvent: ev1.on})
	s2 := scheduler.New(scheduler.Options{Runner: st.engine("host:2", func(connectors.Config) (connectors.Source, error) { return wrapped{Source: src}, nil }), OnEvent: ev2.on})
	cfg := config(t, migJob)
	for _, s := range []*scheduler.Scheduler{s1, s2} {
		if err := s.Load(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.Trigger("mig"); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, reached, "daemon 1 to be running the job")
	if err := s2.Trigger("mig"); err != nil {
		t.Fatal(err)
	}
	e := ev2.wait(t, "daemon 2's attempt", func(scheduler.Event) bool { return true })
	if e.Outcome != scheduler.OutcomeLocked || !errors.Is(e.Err, workspace.ErrLocked) {
		t.Errorf("second daemon: outcome %s err %v, want skipped-locked", e.Outcome, e.Err)
	}
	runs, _ := st.cat.Runs(context.Background(), "mig", 10)
	if len(runs) != 1 || runs[0].Status != workspace.StatusRunning {
		t.Errorf("runs %+v: want only daemon 1's run, still running", runs)
	}
	stop(t, s1)
	stop(t, s2)
	if js := s2.Jobs(); js[0].Skipped[scheduler.OutcomeLocked] != 1 {
		t.Errorf("daemon 2 status %+v", js[0])
	}
}

// panicOpen panics when opening one chosen item.
type panicOpen struct {
	wrapped
	ref string
}

func (p panicOpen) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if string(it.Ref) == p.ref {
		panic("connector bug on " + p.ref)
	}
	return p.wrapped.Open(ctx, it)
}

func TestPanicInAnItemFetchIsThatItemsProblem(t *testing.T) {
	st := newStore(t)
	src := seeded("drive", 6)
	eng := st.engine("d1", func(connectors.Config) (connectors.Source, error) {
		return panicOpen{wrapped{Source: src}, "Docs/file-03.txt"}, nil
	})
	ev := newEvents()
	s := scheduler.New(scheduler.Options{Runner: eng, Catalog: st.cat, OnEvent: ev.on})
	if err := s.Load(config(t, migJob)); err != nil {
		t.Fatal(err)
	}
	if err := s.Trigger("mig"); err != nil {
		t.Fatal(err)
	}
	e := ev.wait(t, "the run", outcome("mig", scheduler.OutcomeRan))
	stop(t, s)
	if e.Result.Status != workspace.StatusProblems || e.Result.Counts.New != 5 || e.Result.Counts.Problems != 1 {
		t.Fatalf("run %s %v: want the other 5 stored and 1 problem", e.Result.Status, e.Result.Counts)
	}
	items, _ := st.cat.RunItems(context.Background(), e.RunID)
	found := false
	for _, it := range items {
		found = found || (it.Action == "problem" && it.Ref == "Docs/file-03.txt" && strings.Contains(it.Detail, "panic"))
	}
	if !found {
		t.Errorf("the panicking item is not recorded as a problem: %+v", items)
	}
}
