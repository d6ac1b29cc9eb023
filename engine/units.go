package engine

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncd/syncd/workspace"
)

// A run's sources are its units of work (workspace.Unit). The process
// holding the job's lock starts the run and adds them; it and any process
// joining the run (Engine.Join: a daemon whose schedule fires while
// another runs the job, or `syncd sync --join`) claim them one at a time,
// each under a lease renewed while the source runs. A unit whose holder
// died (on this host: at once; elsewhere: when its lease runs out,
// unitTTL) is claimed again and its source resumes from the cursor it
// last committed: nothing is lost, and a content already stored is never
// stored again. The run's holder waits for every unit, then rebuilds the
// history and finishes the run, so one process rebuilds at a time.

// unitTTL is how long a unit stays with a process that stopped renewing
// it: the longest a dead worker on another host keeps its unit.
const unitTTL = lockTTL

// enabledSources maps the job's enabled sources by name; names lists
// them in config order.
func enabledSources(job *Job) (configs map[string]SourceConfig, names []string) {
	configs = map[string]SourceConfig{}
	for _, sc := range job.Sources {
		if sc.Enabled == nil || *sc.Enabled {
			configs[sc.Name] = sc
			names = append(names, sc.Name)
		}
	}
	return configs, names
}

// runUnits runs units of the run, job.parallel() at a time, until none is
// left to claim. The run's holder (own) also waits for units others run,
// taking over those whose holder died, and returns every unit's result in
// config order; a joining process returns what it ran. A panic in one
// source stops the others and is raised again here, on the caller's
// goroutine.
func (e *Engine) runUnits(ctx context.Context, log *slog.Logger, cfgFile string, job *Job, runID int64, own bool) []SourceResult {
	configs, _ := enabledSources(job)
	var (
		mu  sync.Mutex
		ran = map[string]SourceResult{}
		wg  sync.WaitGroup
		pmu sync.Mutex // one claim at a time in this process
	)
	shared := newRunShared()
	var ended unitEnded
	sctx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	var panicked atomic.Pointer[sourcePanic]
	worker := func() {
		defer wg.Done()
		for sctx.Err() == nil {
			woken := ended.next() // before the claim: an end after it wakes this worker
			pmu.Lock()
			u, ok, busy, err := e.claimUnit(sctx, runID, configs)
			pmu.Unlock()
			if err != nil {
				if sctx.Err() == nil {
					log.Error("claiming work failed", "err", err)
				}
				return
			}
			if !ok {
				// The run's holder waits for every unit; a process that
				// joined leaves when nothing is left to claim, unless a
				// partitioned source being split will add parts.
				if !busy.running || (!own && !busy.splitting) {
					return
				}
				if !own {
					log.Debug("waiting for a source being split into parts")
				}
				// Woken when one of this process's units ends; the poll is
				// for units other processes run.
				if waitPollOr(sctx, woken) != nil {
					return
				}
				continue
			}
			sc, part, _ := unitSource(configs, u.Name)
			sr := e.runUnit(sctx, log, cfgFile, job, sc, part, u.Name, runID, shared, &panicked, stopSources)
			mu.Lock()
			ran[u.Name] = sr
			mu.Unlock()
			ended.signal()
		}
	}
	for range job.parallel() {
		wg.Add(1)
		go worker()
	}
	wg.Wait()
	if p := panicked.Load(); p != nil {
		panic(p)
	}
	// Each source's result: what its units did (its own, and its parts'
	// if partitioned), here or, for the run's holder, elsewhere.
	results := map[string][]SourceResult{}
	for _, sr := range ran {
		results[sr.Name] = append(results[sr.Name], sr)
	}
	if own {
		units, err := e.Catalog.Units(context.WithoutCancel(ctx), runID)
		if err != nil {
			log.Error("reading the run's units failed", "err", err)
		}
		for _, u := range units {
			if _, mine := ran[u.Name]; mine || u.State != workspace.UnitDone {
				continue
			}
			if sc, _, ok := unitSource(configs, u.Name); ok {
				results[sc.Name] = append(results[sc.Name], SourceResult{Name: sc.Name, Kind: u.Kind, Counts: u.Counts, Err: u.Error, Worker: u.Holder})
			}
		}
	}
	var out []SourceResult
	for _, sc := range job.Sources {
		if rs, ok := results[sc.Name]; ok {
			out = append(out, mergeResults(rs))
		}
	}
	return out
}

// mergeResults adds up the results of one source's units: its counts,
// its errors (each once) and the other processes that ran some of them.
func mergeResults(rs []SourceResult) SourceResult {
	out := SourceResult{Name: rs[0].Name, Kind: rs[0].Kind}
	var errs, workers []string
	for _, r := range rs {
		out.Counts.Add(r.Counts)
		if r.Err != "" && !slices.Contains(errs, r.Err) {
			errs = append(errs, r.Err)
		}
		if r.Worker != "" && !slices.Contains(workers, r.Worker) {
			workers = append(workers, r.Worker)
		}
		if out.Kind == "" {
			out.Kind = r.Kind
		}
	}
	slices.Sort(workers)
	out.Err = strings.Join(errs, "; ")
	out.Worker = strings.Join(workers, ", ")
	return out
}

// unitSource returns the source a unit of work belongs to, and the part
// when it is one part of a partitioned source (named source/part).
func unitSource(configs map[string]SourceConfig, name string) (SourceConfig, *string, bool) {
	if sc, ok := configs[name]; ok {
		return sc, nil, true
	}
	if src, part, ok := strings.Cut(name, "/"); ok {
		if sc, ok := configs[src]; ok && sc.Partition {
			return sc, &part, true
		}
	}
	return SourceConfig{}, nil, false
}

// unitEnded wakes a process's workers waiting for the units its other
// workers run: when one ends, the run may be over (or a partitioned
// source's parts are there to claim) and they look again at once, instead
// of at their next poll of the catalog, which only units of other
// processes need.
type unitEnded struct {
	mu sync.Mutex
	ch chan struct{}
}

// next returns a channel closed when the next unit ends.
func (u *unitEnded) next() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ch == nil {
		u.ch = make(chan struct{})
	}
	return u.ch
}

// signal wakes the workers waiting on next.
func (u *unitEnded) signal() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ch != nil {
		close(u.ch)
		u.ch = nil
	}
}

// busyUnits says whether units of the run remain that others run, and
// whether one of them is a partitioned source's own unit, which will add
// its parts when it ends.
type busyUnits struct{ running, splitting bool }

// add counts a unit another process runs: a part, or a source's own unit
// (split if the source is partitioned).
func (b *busyUnits) add(sc SourceConfig, part *string) {
	b.running = true
	b.splitting = b.splitting || (part == nil && sc.Partition)
}

// claimUnit claims a unit of the run this process has a source for: one
// to do, or one whose holder's lease is over or who died. busy says what
// remains that others run.
func (e *Engine) claimUnit(ctx context.Context, runID int64, configs map[string]SourceConfig) (workspace.Unit, bool, busyUnits, error) {
	// The first few units to do are nearly always claimable: only when
	// none of them is does the claim read every unit not done (those of
	// other workers' configs, leases run out, what others hold).
	if units, err := e.Catalog.UnitsToClaim(ctx, runID, claimFirst); err != nil {
		return workspace.Unit{}, false, busyUnits{}, err
	} else if u, ok, _, err := e.claimAmong(ctx, units, configs); err != nil || ok {
		return u, ok, busyUnits{}, err
	}
	units, err := e.Catalog.UnitsToClaim(ctx, runID, 0)
	if err != nil {
		return workspace.Unit{}, false, busyUnits{}, err
	}
	return e.claimAmong(ctx, units, configs)
}

// claimFirst is how many units to do claimUnit reads first.
const claimFirst = 16

// claimAmong claims the first unit of units this process can run.
func (e *Engine) claimAmong(ctx context.Context, units []workspace.Unit, configs map[string]SourceConfig) (workspace.Unit, bool, busyUnits, error) {
	var busy busyUnits
	for _, u := range units {
		sc, part, ok := unitSource(configs, u.Name)
		if !ok {
			continue // another worker's config has it; this one cannot run it
		}
		switch {
		case u.State == workspace.UnitTodo:
		case u.State == workspace.UnitRunning && u.Holder != e.Holder &&
			(!u.Expires.After(e.Catalog.Now()) || deadHolder(u.Holder)):
			e.logger().Warn("taking over the work of a process that stopped", "run", u.Run, "source", u.Name, "holder", u.Holder)
		case u.State == workspace.UnitRunning:
			busy.add(sc, part)
			continue
		default:
			continue
		}
		ok, err := e.Catalog.ClaimUnit(ctx, u, e.Holder, unitTTL)
		if err != nil {
			return workspace.Unit{}, false, busy, err
		}
		if ok {
			return u, true, busy, nil
		}
		busy.add(sc, part) // someone else claimed it just now
	}
	return workspace.Unit{}, false, busy, nil
}

// runUnit runs one claimed unit's source, renewing its lease, and records
// the outcome. A unit stopped before its end is handed back, to be done
// by whoever comes next; one lost to another process (this one failed to
// renew it in time) is left to that process.
func (e *Engine) runUnit(ctx context.Context, log *slog.Logger, cfgFile string, job *Job, sc SourceConfig, part *string, unit string, runID int64, shared *runShared,
	panicked *atomic.Pointer[sourcePanic], stopSources func()) (sr SourceResult) {
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost atomic.Bool
	stopRenew := every(uctx, unitTTL/4, func(rctx context.Context) {
		err := e.Catalog.RenewUnit(rctx, runID, unit, e.Holder, unitTTL)
		if errors.Is(err, workspace.ErrLostUnit) {
			lost.Store(true)
			log.Error("another process took this source over: stopping it here", "unit", unit)
			cancel() // ends the renewals too
			return
		}
		if err != nil && rctx.Err() == nil {
			log.Error("renewing the source's lease failed", "unit", unit, "err", err)
		}
	})
	func() {
		defer func() {
			if v := recover(); v != nil {
				panicked.CompareAndSwap(nil, &sourcePanic{source: unit, value: v, stack: debug.Stack()})
				stopSources()
			}
		}()
		sr = e.runSource(uctx, log, cfgFile, job, sc, part, runID, shared)
	}()
	cancel()
	stopRenew()
	bg := context.WithoutCancel(ctx)
	switch {
	case lost.Load():
	case ctx.Err() != nil || panicked.Load() != nil:
		if err := e.Catalog.ReleaseUnit(bg, runID, unit, e.Holder); err != nil {
			log.Error("handing the source back failed", "unit", unit, "err", err)
		}
	default:
		if err := e.Catalog.FinishUnit(bg, runID, unit, e.Holder, sr.Kind, sr.Counts, sr.Err); err != nil {
			log.Error("recording the source's outcome failed", "unit", unit, "err", err)
		}
	}
	return sr
}

// joinRun helps the run of the process holding the job's lock, if it has
// started one: joined is false when there is none to help yet (or the
// lock was just freed), and the caller tries the lock again.
func (e *Engine) joinRun(ctx context.Context, cfgFile string, job *Job) (res *Result, joined bool, err error) {
	holder, err := e.Catalog.LockHolder(ctx, "job:"+job.Name)
	if err != nil || holder == "" {
		return nil, false, err
	}
	runID, ok, err := e.Catalog.OpenRun(ctx, job.Name, holder)
	if err != nil || !ok {
		return nil, false, err
	}
	log := e.logger().With("job", job.Name, "run", runID)
	log.Info("joining the run of another process", "holder", holder)
	res = &Result{RunID: runID, Job: job.Name, Started: time.Now(), Joined: holder}
	res.Sources = e.runUnits(ctx, log, cfgFile, job, runID, false)
	for _, sr := range res.Sources {
		res.Counts.Add(sr.Counts)
	}
	res.Finished = time.Now()
	var runErr error
	if ctx.Err() != nil {
		runErr = ctx.Err()
	}
	res.Status = status(res, runErr)
	log.Info("left the run of another process", "holder", holder, "sources", len(res.Sources), "status", res.Status)
	return res, true, runErr
}
