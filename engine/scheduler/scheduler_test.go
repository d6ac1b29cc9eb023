package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/workspace"
)

// fakeRunner records calls; when block is set each run waits for release
// (or for ctx, unless ignoreCtx).
type fakeRunner struct {
	block     bool
	ignoreCtx bool
	release   chan struct{}
	started   chan string
	active    atomic.Int32
	max       atomic.Int32
	mu        sync.Mutex
	calls     []call
}

type call struct {
	job string
	at  time.Time
}

func newFakeRunner(block bool) *fakeRunner {
	return &fakeRunner{block: block, release: make(chan struct{}), started: make(chan string, 100)}
}

func (f *fakeRunner) RunJob(ctx context.Context, _ string, job *engine.Job) (*engine.Result, error) {
	n := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{job.Name, time.Now()})
	f.mu.Unlock()
	f.started <- job.Name
	if f.block {
		if f.ignoreCtx {
			<-f.release
		} else {
			select {
			case <-f.release:
			case <-ctx.Done():
				return &engine.Result{Job: job.Name, Status: workspace.StatusInterrupted}, ctx.Err()
			}
		}
	}
	return &engine.Result{Job: job.Name, Status: workspace.StatusOK}, nil
}

func (f *fakeRunner) callsOf(job string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, c := range f.calls {
		if c.job == job {
			out = append(out, c.at)
		}
	}
	return out
}

func stop(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

const oneJob = `
timezone: UTC
jobs:
  - name: %s
    schedule: "%s"
    sources: [{name: drive, type: memory}]
`

func TestRunsOnRealCronSchedule(t *testing.T) {
	st := newStore(t)
	src := seeded("drive", 5)
	eng := st.engine("d1", func(connectors.Config) (connectors.Source, error) { return wrapped{Source: src}, nil })
	ev := newEvents()
	s := scheduler.New(scheduler.Options{Runner: eng, Catalog: st.cat, OnEvent: ev.on})
	cfg := config(t, strings.ReplaceAll(strings.ReplaceAll(oneJob, "%s\n    schedule", "docs\n    schedule"), `"%s"`, `"@every 1s"`))
	if err := s.Load(cfg); err != nil {
		t.Fatal(err)
	}
	jobs := s.Jobs()
	if len(jobs) != 1 || jobs[0].NextRun == nil || time.Until(*jobs[0].NextRun) > 1100*time.Millisecond {
		t.Fatalf("jobs %+v: want docs with a next run within a second", jobs)
	}
	s.Start()
	var ran []scheduler.Event
	overlaps := 0
	for len(ran) < 2 {
		e := ev.wait(t, "two scheduled runs", func(e scheduler.Event) bool { return e.Job == "docs" })
		switch e.Outcome {
		case scheduler.OutcomeRan:
			ran = append(ran, e)
		case scheduler.OutcomeOverlap:
			overlaps++ // a slow (loaded) machine: the firing during run 1 is skipped
		default:
			t.Fatalf("unexpected outcome %s: %v", e.Outcome, e.Err)
		}
	}
	first, second := ran[0], ran[1]
	stop(t, s)
	if first.Result.Status != workspace.StatusOK || first.Result.Counts.New != 5 {
		t.Errorf("first run %s %v, want ok with 5 new", first.Result.Status, first.Result.Counts)
	}
	if second.Result.Counts.New != 0 {
		t.Errorf("second run fetched again: %v", second.Result.Counts)
	}
	// On time: run 2 starts on the firing after run 1's, or a whole number
	// of periods later with every firing in between skipped as overlap.
	gap := second.Started.Sub(first.Started)
	periods := gap.Round(time.Second)
	if periods < time.Second || (gap-periods).Abs() > 450*time.Millisecond || int(periods/time.Second)-1 != overlaps {
		t.Errorf("runs %v apart with %d skipped firings on an @every 1s schedule", gap, overlaps)
	}
	runs, _ := st.cat.Runs(context.Background(), "docs", 10)
	if len(runs) < 2 || runs[len(runs)-1].Status != workspace.StatusOK {
		t.Errorf("run records %+v", runs)
	}
}

func TestNeverOverlaps(t *testing.T) {
	r := newFakeRunner(true)
	ev := newEvents()
	s := scheduler.New(scheduler.Options{Runner: r, Parse: testParse, OnEvent: ev.on, MaxConcurrent: 4})
	if err := s.Load(config(t, "jobs:\n  - name: j\n    schedule: \"@test 15ms\"\n    sources: [{name: a, type: memory}]\n")); err != nil {
		t.Fatal(err)
	}
	s.Start()
	<-r.started
	for range 3 {
		ev.wait(t, "a skipped firing while running", outcome("j", scheduler.OutcomeOverlap))
	}
	if err := s.Trigger("j"); !errors.Is(err, scheduler.ErrRunning) {
		t.Errorf("manual trigger while running: %v, want ErrRunning", err)
	}
	if js := s.Jobs(); !js[0].Running || js[0].Skipped[scheduler.OutcomeOverlap] < 3 {
		t.Errorf("status %+v: want running with >= 3 overlaps skipped", js[0])
	}
	close(r.release)
	ev.wait(t, "the run to finish", outcome("j", scheduler.OutcomeRan))
	ev.wait(t, "a later run", outcome("j", scheduler.OutcomeRan))
	stop(t, s)
	if m := r.max.Load(); m != 1 {
		t.Errorf("%d runs of one job at once", m)
	}
	if err := s.Trigger("j"); !errors.Is(err, scheduler.ErrStopped) {
		t.Errorf("trigger after stop: %v", err)
	}
}

func TestPanicIsRecordedAndNextRunRuns(t *testing.T) {
	st := newStore(t)
	src := seeded("drive", 4)
	var scans atomic.Int32
	eng := st.engine("d1", func(connectors.Config) (connectors.Source, error) {
		return wrapped{Source: src, scan: func(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
			if scans.Add(1) == 1 {
				var m map[string]int
				m["boom"]++ // nil map write: a real runtime panic
			}
			return src.Scan(ctx, cur, sink)
		}}, nil
	})
	ev := newEvents()
	s := scheduler.New(scheduler.Options{Runner: eng, Catalog: st.cat, Parse: testParse, OnEvent: ev.on})
	if err := s.Load(config(t, "jobs:\n  - name: p\n    schedule: \"@test 20ms\"\n    sources: [{name: drive, type: memory}]\n")); err != nil {
		t.Fatal(err)
	}
	s.Start()
	pe := ev.wait(t, "the panic", outcome("p", scheduler.OutcomePanic))
	ok := ev.wait(t, "the next run", outcome("p", scheduler.OutcomeRan))
	stop(t, s)
	if ok.Result.Status != workspace.StatusOK || ok.Result.Counts.New != 4 {
		t.Errorf("run after panic: %s %v", ok.Result.Status, ok.Result.Counts)
	}
	failed, err := st.cat.GetRun(context.Background(), pe.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if failed.Status != workspace.StatusFailed || !strings.Contains(failed.Error, "panic") || failed.Finished.IsZero() {
		t.Errorf("panicked run recorded as %+v, want failed with the panic", failed)
	}
	if ok.RunID <= pe.RunID {
		t.Errorf("ok run %d not after failed run %d", ok.RunID, pe.RunID)
	}
}

func TestRecordPanicBeforeRunRecord(t *testing.T) {
	st := newStore(t)
	id, err := scheduler.RecordPanic(context.Background(), st.cat, "early", "", "job early: panic: x")
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.cat.GetRun(context.Background(), id)
	if err != nil || r.Status != workspace.StatusFailed || r.Job != "early" {
		t.Fatalf("run %+v err %v", r, err)
	}
}

// A panic in a process that joined another's run leaves that run to its
// holder: it stays running, and the audit log keeps the panic.
func TestRecordPanicInAJoinedRun(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	run, err := st.cat.StartRunBy(ctx, "shared", "sync", "other-host:1")
	if err != nil {
		t.Fatal(err)
	}
	id, err := scheduler.RecordPanic(ctx, st.cat, "shared", "this-host:2", "job shared: panic: y")
	if err != nil || id != run {
		t.Fatalf("RecordPanic = %d %v, want the joined run %d", id, err, run)
	}
	r, _ := st.cat.GetRun(ctx, run)
	if r.Status != workspace.StatusRunning || r.Holder != "other-host:1" {
		t.Errorf("the joined run %+v: want it still running", r)
	}
	if log, _ := st.cat.AuditLog(ctx, 5); len(log) == 0 || log[0].Action != "job.panic" || log[0].Actor != "this-host:2" || !strings.Contains(log[0].Detail, "panic: y") {
		t.Errorf("audit %+v: want the panic", log)
	}
	if runs, _ := st.cat.Runs(ctx, "shared", 10); len(runs) != 1 {
		t.Errorf("runs %+v: want no run added", runs)
	}
}

func TestWindowUsesConfiguredTimezone(t *testing.T) {
	r := newFakeRunner(false)
	ev := newEvents()
	// 12:00 UTC is 13:00 in Paris: outside 22:00-06:00.
	clk := newFakeClock(time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC))
	s := scheduler.New(scheduler.Options{Runner: r, Parse: testParse, OnEvent: ev.on, Clock: clk})
	cfg := config(t, "timezone: Europe/Paris\njobs:\n  - name: n\n    schedule: \"@test 15ms\"\n    window: \"22:00-06:00\"\n    sources: [{name: a, type: memory}]\n")
	if err := s.Load(cfg); err != nil {
		t.Fatal(err)
	}
	s.Start()
	ev.wait(t, "a firing outside the window", outcome("n", scheduler.OutcomeWindow))
	if n := len(r.callsOf("n")); n != 0 {
		t.Fatalf("ran %d times outside the window", n)
	}
	// 21:30 UTC is 22:30 in Paris: inside (it would be outside in UTC).
	clk.Set(time.Date(2025, 1, 15, 21, 30, 0, 0, time.UTC))
	ev.wait(t, "a run inside the window", outcome("n", scheduler.OutcomeRan))
	stop(t, s)
}

func TestJitterDelaysTheRun(t *testing.T) {
	r := newFakeRunner(false)
	ev := newEvents()
	t0 := time.Date(2025, 1, 15, 3, 0, 0, 0, time.UTC)
	clk := newFakeClock(t0)
	var gotMax atomic.Int64
	jitter := func(max time.Duration) time.Duration { gotMax.Store(int64(max)); return max / 2 }
	s := scheduler.New(scheduler.Options{Runner: r, Parse: testParse, OnEvent: ev.on, Clock: clk, Jitter: jitter})
	cfg := config(t, "jobs:\n  - name: j\n    schedule: \"@test 15ms\"\n    jitter: 10m\n    sources: [{name: a, type: memory}]\n")
	if err := s.Load(cfg); err != nil {
		t.Fatal(err)
	}
	s.Start()
	var w fakeWait
	select {
	case w = <-clk.waits:
	case <-time.After(20 * time.Second):
		t.Fatal("no jitter wait")
	}
	if w.d != 5*time.Minute || time.Duration(gotMax.Load()) != 10*time.Minute {
		t.Fatalf("jitter wait %v for max %v, want 5m of 10m", w.d, time.Duration(gotMax.Load()))
	}
	// While it waits, the job is busy: later firings are skipped.
	ev.wait(t, "overlap during jitter", outcome("j", scheduler.OutcomeOverlap))
	if n := len(r.callsOf("j")); n != 0 {
		t.Fatalf("ran %d times before the jitter elapsed", n)
	}
	clk.Set(t0.Add(w.d))
	w.ch <- t0.Add(w.d)
	got := ev.wait(t, "the jittered run", outcome("j", scheduler.OutcomeRan))
	if !got.Started.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("run started at %v, want after the 5m jitter", got.Started)
	}
	stop(t, s) // releases the next pending jitter wait
}

func TestReloadSwapsJobsAtomically(t *testing.T) {
	r := newFakeRunner(false)
	ev := newEvents()
	s := scheduler.New(scheduler.Options{Runner: r, Parse: testParse, OnEvent: ev.on})
	if err := s.Load(config(t, "jobs:\n  - name: a\n    schedule: \"@test 15ms\"\n    sources: [{name: x, type: memory}]\n")); err != nil {
		t.Fatal(err)
	}
	s.Start()
	ev.wait(t, "a runs", outcome("a", scheduler.OutcomeRan))
	gen := s.Info().Generation
	bad := &engine.Config{File: "bad.yaml", Jobs: []engine.Job{
		{Name: "b", Schedule: "@test 15ms", Sources: []engine.SourceConfig{{Name: "y", Type: "memory"}}},
		{Name: "c", Schedule: "not a schedule", Sources: []engine.SourceConfig{{Name: "z", Type: "memory"}}},
	}}
	err := s.Load(bad)
	if err == nil || !strings.Contains(err.Error(), "job c") {
		t.Fatalf("bad config: err=%v, want it rejected naming job c", err)
	}
	if s.Info().Generation != gen || len(s.Jobs()) != 1 || s.Jobs()[0].Name != "a" {
		t.Fatalf("bad config changed the job set: %+v", s.Jobs())
	}
	afterBad := time.Now()
	for {
		e := ev.wait(t, "a still runs after the rejected reload", outcome("a", scheduler.OutcomeRan))
		if e.Started.After(afterBad) {
			break
		}
	}
	if err := s.Load(config(t, "jobs:\n  - name: b\n    schedule: \"@test 15ms\"\n    sources: [{name: y, type: memory}]\n")); err != nil {
		t.Fatal(err)
	}
	swapped := time.Now()
	for range 3 {
		ev.wait(t, "b runs", outcome("b", scheduler.OutcomeRan))
	}
	stop(t, s)
	for _, at := range r.callsOf("a") {
		if at.After(swapped) {
			t.Errorf("job a started at %v, after the reload removed it (%v)", at, swapped)
		}
	}
	if js := s.Jobs(); len(js) != 1 || js[0].Name != "b" {
		t.Errorf("jobs after reload: %+v", js)
	}
}

// gateRunner runs each job until its gate is closed.
type gateRunner struct {
	started chan string
	gates   map[string]chan struct{}
}

func (g *gateRunner) RunJob(ctx context.Context, _ string, job *engine.Job) (*engine.Result, error) {
	g.started <- job.Name
	<-g.gates[job.Name]
	return &engine.Result{Job: job.Name, Status: workspace.StatusOK}, nil
}

// TestOnIdleOnlyWhenNothingRuns: the daemon hands a run's memory back to
// the OS from OnIdle, which must come once the last job is done and never
// while another one still runs.
func TestOnIdleOnlyWhenNothingRuns(t *testing.T) {
	r := &gateRunner{started: make(chan string, 2), gates: map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}}
	ev := newEvents()
	var s *scheduler.Scheduler
	var idles, busyAtIdle atomic.Int32
	s = scheduler.New(scheduler.Options{Runner: r, OnEvent: ev.on, MaxConcurrent: 2, OnIdle: func() {
		idles.Add(1)
		for _, j := range s.Jobs() {
			if j.Running {
				busyAtIdle.Add(1)
			}
		}
	}})
	if err := s.Load(config(t, "jobs:\n  - name: a\n    sources: [{name: x, type: memory}]\n  - name: b\n    sources: [{name: y, type: memory}]\n")); err != nil {
		t.Fatal(err)
	}
	s.Start()
	for _, j := range []string{"a", "b"} {
		if err := s.Trigger(j); err != nil {
			t.Fatal(err)
		}
	}
	<-r.started
	<-r.started
	close(r.gates["a"])
	ev.wait(t, "a to finish", outcome("a", scheduler.OutcomeRan))
	if n := idles.Load(); n != 0 {
		t.Fatalf("OnIdle called %d times while b still runs", n)
	}
	close(r.gates["b"])
	ev.wait(t, "b to finish", outcome("b", scheduler.OutcomeRan))
	stop(t, s)
	if n := idles.Load(); n != 1 {
		t.Errorf("OnIdle called %d times after two overlapping runs, want 1", n)
	}
	if n := busyAtIdle.Load(); n != 0 {
		t.Errorf("OnIdle saw %d jobs running", n)
	}
}
