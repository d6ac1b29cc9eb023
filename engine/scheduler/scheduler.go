// Package scheduler is the daemon's scheduling core: it runs each job with a
// schedule on its cron spec (robfig/cron/v3), never lets a job overlap
// itself, recovers panics and records them as failed runs, applies jitter
// and run windows, swaps the whole job set atomically on reload, and stops
// gracefully: running jobs are cancelled so the engine commits the batch in
// hand, and Stop returns within the caller's bound.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// Sentinel errors.
var (
	ErrUnknownJob = errors.New("no such job")
	ErrRunning    = errors.New("job is already running")
	ErrStopped    = errors.New("scheduler is stopping")
)

// Runner runs one job to completion; *engine.Engine is one.
type Runner interface {
	RunJob(ctx context.Context, cfgFile string, job *engine.Job) (*engine.Result, error)
}

// Clock is the time source for run windows and jitter waits. Cron's own
// timers always use the wall clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Triggers.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// Outcomes of one firing.
const (
	OutcomeRan      = "ran"              // the run returned; Result.Status says how it went
	OutcomeFailed   = "failed"           // the job could not run, or returned an error without a result
	OutcomePanic    = "panic"            // the job panicked; recorded as a failed run
	OutcomeOverlap  = "skipped-overlap"  // the job was still running (or waiting to run)
	OutcomeWindow   = "skipped-window"   // outside the job's run window
	OutcomeLocked   = "skipped-locked"   // another process holds the job's lock in the store
	OutcomeStopping = "skipped-stopping" // the scheduler stopped before the run began
)

// Event is the outcome of one firing of a job.
type Event struct {
	Job      string
	Trigger  string
	Outcome  string
	RunID    int64
	Result   *engine.Result // nil unless the run returned one
	Err      error
	Started  time.Time
	Finished time.Time
}

// Options configure a Scheduler. Runner is required.
type Options struct {
	Runner Runner
	// Catalog, if set, receives a failed run record when a job panics.
	Catalog *workspace.Catalog
	Log     *slog.Logger
	Clock   Clock // default: wall clock
	// Jitter picks a delay in [0, max); default uniform random.
	Jitter func(max time.Duration) time.Duration
	// MaxConcurrent bounds how many different jobs run at once (default 1).
	// A job waiting for a slot counts as running for overlap purposes.
	MaxConcurrent int
	// Parse turns a schedule spec into a cron.Schedule; default
	// engine.CronParser.Parse.
	Parse func(spec string) (cron.Schedule, error)
	// OnEvent is called after every firing (metrics, tests). It must not
	// block for long.
	OnEvent func(Event)
	// OnStart is called when a run is about to begin.
	OnStart func(job, trigger string)
	// OnIdle is called when the last job in progress has finished and none
	// is waiting: the daemon returns the run's memory to the OS there.
	OnIdle func()
}

// Scheduler runs jobs on their schedules.
type Scheduler struct {
	opt    Options
	log    *slog.Logger
	ctx    context.Context // cancelled by Stop: running jobs commit and return
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	gen      int
	cfg      *engine.Config
	loc      *time.Location
	cron     *cron.Cron
	jobs     map[string]*engine.Job
	scheds   map[string]cron.Schedule
	state    map[string]*jobState // by job name; survives reloads
	started  bool
	stopping bool
	loadedAt time.Time
}

// New returns a scheduler with no jobs; call Load, then Start.
func New(opt Options) *Scheduler {
	if opt.Clock == nil {
		opt.Clock = wallClock{}
	}
	if opt.Jitter == nil {
		opt.Jitter = defaultJitter
	}
	if opt.MaxConcurrent <= 0 {
		opt.MaxConcurrent = 1
	}
	if opt.Parse == nil {
		opt.Parse = engine.CronParser.Parse
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		opt: opt, log: log, ctx: ctx, cancel: cancel,
		sem:   make(chan struct{}, opt.MaxConcurrent),
		state: map[string]*jobState{},
	}
}

func defaultJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// Load validates cfg's schedules and, only if all are valid, replaces the
// job set in one step: firings of the old set that arrive afterwards are
// ignored; a job that is running keeps running with its old definition and
// is not started again until it finishes. On error nothing changes.
func (s *Scheduler) Load(cfg *engine.Config) error {
	loc := time.Local
	if cfg.Timezone != "" {
		l, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return fmt.Errorf("scheduler: timezone %q: %w", cfg.Timezone, err)
		}
		loc = l
	}
	jobs := make(map[string]*engine.Job, len(cfg.Jobs))
	scheds := map[string]cron.Schedule{}
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		if _, dup := jobs[j.Name]; dup {
			return fmt.Errorf("scheduler: duplicate job %q", j.Name)
		}
		jobs[j.Name] = j
		if j.Window != "" {
			if _, _, err := engine.ParseWindow(j.Window); err != nil {
				return fmt.Errorf("scheduler: job %s: %w", j.Name, err)
			}
		}
		if j.Schedule == "" {
			continue
		}
		sc, err := s.opt.Parse(j.Schedule)
		if err != nil {
			return fmt.Errorf("scheduler: job %s: schedule %q: %w", j.Name, j.Schedule, err)
		}
		scheds[j.Name] = sc
	}
	lg := cronLogger{s.log}
	c := cron.New(cron.WithLocation(loc), cron.WithLogger(lg), cron.WithChain(cron.Recover(lg)))

	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return ErrStopped
	}
	s.gen++
	gen := s.gen
	for name, sc := range scheds {
		c.Schedule(sc, cron.FuncJob(func() { s.fire(gen, name) }))
	}
	old := s.cron
	s.cron, s.cfg, s.loc, s.jobs, s.scheds = c, cfg, loc, jobs, scheds
	s.loadedAt = time.Now()
	if s.started {
		c.Start()
	}
	s.mu.Unlock()
	if old != nil {
		old.Stop() // our runs are tracked by s.wg, not by cron
	}
	s.log.Info("schedule loaded", "config", cfg.File, "generation", gen, "jobs", len(jobs), "scheduled", len(scheds))
	return nil
}

// Start begins firing scheduled jobs.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopping {
		return
	}
	s.started = true
	if s.cron != nil {
		s.cron.Start()
	}
}

// Trigger runs the named job now, ignoring its window and jitter. It
// returns at once; the run's outcome is reported through OnEvent.
func (s *Scheduler) Trigger(name string) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return ErrStopped
	}
	job, ok := s.jobs[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownJob, name)
	}
	st := s.stateLocked(name)
	if st.busy {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrRunning, name)
	}
	st.busy = true
	file, loc := s.cfg.File, s.loc
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.release(name)
		s.execute(file, loc, job, TriggerManual)
	}()
	return nil
}

// Stop stops firing, cancels running jobs (the engine commits the batch in
// hand and records the run as interrupted) and waits for them until ctx is
// done. It returns an error naming the jobs still running if ctx ends first.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	c := s.cron
	s.mu.Unlock()
	if c != nil {
		c.Stop()
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scheduler: stop: still running %v: %w", s.runningJobs(), ctx.Err())
	}
}

func (s *Scheduler) runningJobs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, st := range s.state {
		if st.busy {
			out = append(out, name)
		}
	}
	return out
}

// fire is cron's callback for one job of one generation.
func (s *Scheduler) fire(gen int, name string) {
	s.mu.Lock()
	if gen != s.gen || s.stopping {
		s.mu.Unlock()
		return // a firing of a replaced job set
	}
	job := s.jobs[name]
	st := s.stateLocked(name)
	if st.busy {
		st.skipped[OutcomeOverlap]++
		s.mu.Unlock()
		s.log.Warn("job still running: skipping this firing", "job", name)
		s.emit(Event{Job: name, Trigger: TriggerSchedule, Outcome: OutcomeOverlap, Started: s.opt.Clock.Now()})
		return
	}
	st.busy = true
	file, loc := s.cfg.File, s.loc
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.release(name)
	s.execute(file, loc, job, TriggerSchedule)
}

func (s *Scheduler) release(name string) {
	s.mu.Lock()
	s.stateLocked(name).busy = false
	idle := true
	for _, st := range s.state {
		idle = idle && !st.busy
	}
	s.mu.Unlock()
	if idle && s.opt.OnIdle != nil {
		s.opt.OnIdle()
	}
	s.wg.Done()
}

// execute waits for jitter, checks the window, takes a slot and runs.
func (s *Scheduler) execute(file string, loc *time.Location, job *engine.Job, trigger string) {
	skip := func(outcome, why string) {
		s.mu.Lock()
		s.stateLocked(job.Name).skipped[outcome]++
		s.mu.Unlock()
		s.log.Info("job not started: "+why, "job", job.Name, "trigger", trigger)
		s.emit(Event{Job: job.Name, Trigger: trigger, Outcome: outcome, Started: s.opt.Clock.Now()})
	}
	if trigger == TriggerSchedule && job.Jitter > 0 {
		d := s.opt.Jitter(job.Jitter)
		s.log.Debug("jitter", "job", job.Name, "delay", d)
		select {
		case <-s.opt.Clock.After(d):
		case <-s.ctx.Done():
			skip(OutcomeStopping, "stopping")
			return
		}
	}
	if trigger == TriggerSchedule && !job.InWindow(s.opt.Clock.Now().In(loc)) {
		skip(OutcomeWindow, "outside its window "+job.Window)
		return
	}
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		skip(OutcomeStopping, "stopping")
		return
	}
	defer func() { <-s.sem }()
	if s.ctx.Err() != nil {
		skip(OutcomeStopping, "stopping")
		return
	}
	s.run(file, job, trigger)
}

func (s *Scheduler) emit(ev Event) {
	if s.opt.OnEvent != nil {
		s.opt.OnEvent(ev)
	}
}

// cronLogger adapts slog to cron.Logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
