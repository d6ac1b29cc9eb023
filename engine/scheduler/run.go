package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// run runs one job, turning a panic into a failed run.
func (s *Scheduler) run(file string, job *engine.Job, trigger string) {
	ev := Event{Job: job.Name, Trigger: trigger, Started: s.opt.Clock.Now()}
	s.mu.Lock()
	st := s.stateLocked(job.Name)
	st.running, st.since = true, time.Now()
	s.mu.Unlock()
	if s.opt.OnStart != nil {
		s.opt.OnStart(job.Name, trigger)
	}
	log := s.log.With("job", job.Name, "trigger", trigger)
	log.Info("job starting")
	defer func() {
		if v := recover(); v != nil {
			ev.Outcome = OutcomePanic
			ev.Err = fmt.Errorf("job %s: panic: %v", job.Name, v)
			log.Error("job panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if s.opt.Catalog != nil {
				holder := ""
				if e, ok := s.opt.Runner.(*engine.Engine); ok {
					holder = e.Holder // a panic fails only a run this process started
				}
				id, err := RecordPanic(context.WithoutCancel(s.ctx), s.opt.Catalog, job.Name, holder, ev.Err.Error())
				if err != nil {
					log.Error("recording the panic as a failed run failed", "err", err)
				}
				ev.RunID = id
			}
		}
		ev.Finished = s.opt.Clock.Now()
		s.finish(ev)
	}()
	res, err := s.opt.Runner.RunJob(s.ctx, file, job)
	ev.Result, ev.Err = res, err
	if res != nil {
		ev.RunID = res.RunID
	}
	switch {
	case errors.Is(err, workspace.ErrLocked):
		ev.Outcome = OutcomeLocked
		log.Warn("job is locked by another process: not run", "err", err)
	case res != nil:
		ev.Outcome = OutcomeRan
	case err != nil:
		ev.Outcome = OutcomeFailed
		log.Error("job could not run", "err", err)
	default:
		ev.Outcome = OutcomeFailed
		ev.Err = fmt.Errorf("job %s: runner returned neither result nor error", job.Name)
	}
}

func (s *Scheduler) finish(ev Event) {
	s.mu.Lock()
	st := s.stateLocked(ev.Job)
	st.running = false
	e := ev
	st.last = &e
	switch ev.Outcome {
	case OutcomeLocked:
		st.skipped[OutcomeLocked]++
	default:
		st.runs++
	}
	if ev.Outcome == OutcomeRan && ev.Result != nil && ev.Err == nil &&
		(ev.Result.Status == workspace.StatusOK || ev.Result.Status == workspace.StatusProblems) {
		st.lastSuccess = ev.Finished
	}
	s.mu.Unlock()
	s.emit(ev)
}

// RecordPanic records a panicked job as a failed run: the run the engine
// left "running" is finished as failed, or, if the panic came before the
// run was recorded, a failed run is added. A panic in a process that
// joined another's run leaves that run running and goes to the audit log.
// It returns the run's id.
func RecordPanic(ctx context.Context, cat *workspace.Catalog, job, holder, msg string) (int64, error) {
	runs, err := cat.Runs(ctx, job, 1)
	if err != nil {
		return 0, err
	}
	if len(runs) == 1 && runs[0].Status == workspace.StatusRunning && runs[0].Holder != holder && runs[0].Holder != "" {
		// The run of another process this one joined: it goes on (the
		// source that panicked here was handed back); the audit log
		// keeps the panic.
		return runs[0].ID, cat.Audit(ctx, holder, "job.panic", job, msg)
	}
	if len(runs) == 1 && runs[0].Status == workspace.StatusRunning {
		return runs[0].ID, cat.FinishRun(ctx, runs[0].ID, workspace.StatusFailed, runs[0].Counts, msg)
	}
	id, err := cat.StartRun(ctx, job, engine.ModeSync)
	if err != nil {
		return 0, err
	}
	return id, cat.FinishRun(ctx, id, workspace.StatusFailed, workspace.Counts{}, msg)
}
