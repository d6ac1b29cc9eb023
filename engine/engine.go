package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// Run modes.
const (
	ModeSync = "sync"
	ModePlan = "plan"
)

// Engine runs jobs against one store.
type Engine struct {
	Catalog *workspace.Catalog
	Blobs   dedupe.BlobStore
	Log     *slog.Logger
	Env     *connectors.Env
	// Observer, if set, hears about progress (progress bars, metrics).
	Observer Observer
	// Open builds a source from its config; default connectors.New.
	Open func(connectors.Config) (connectors.Source, error)
	// Mode is ModeSync or ModePlan (recorded on the run).
	Mode string
	// Holder identifies this process for job locks and units of work.
	Holder string
	// Join: when another process runs the job, help its run (take units
	// of its work) instead of failing with workspace.ErrLocked.
	Join bool
	// KeyCap: an evidence key carried by more than this many blobs is no
	// evidence for history (0: history.DefaultKeyCap).
	KeyCap int
	// RebuildBatch: a history rebuild stores components in batches of
	// about this many sightings (0: 20,000); a larger component is a batch
	// of its own.
	RebuildBatch int
	// OnRebuildBatch, if set, hears after each batch of components a
	// history rebuild stores, with the counts so far.
	OnRebuildBatch func(RebuildStats)
}

// Observer hears about a run as it happens. Methods are called from many
// goroutines.
type Observer interface {
	SourceStarted(job, source string)
	// Counted tells what a source's counts just grew by: an item listed,
	// stored, skipped or failed, bytes fetched, and what the connector's
	// counters grew by since they were last read (they are read after
	// each item and checkpoint). A change can be negative (an item counted
	// stored whose blob then failed to be written is counted a problem
	// instead). The changes of a source add up to the counts
	// SourceFinished reports, less the one problem counted there for a
	// source that failed: an observer that adds up the changes must not
	// add those counts again. d is only valid during the call.
	Counted(job, source string, d workspace.Counts)
	SourceFinished(job, source string, counts workspace.Counts, err error)
}

// Action is what the engine did with one item.
type Action string

// Actions.
const (
	ActScanned   Action = "scanned"   // listed (every item)
	ActKnown     Action = "known"     // sighting already in the store: nothing to do
	ActNew       Action = "new"       // new content fetched and stored
	ActDuplicate Action = "duplicate" // content already stored: new sighting only
	ActSkip      Action = "skip"      // not a document, or excluded
	ActProblem   Action = "problem"   // could not be read
	ActGone      Action = "gone"      // no longer at the source (the store keeps it)
)

// Result is the outcome of one job run.
type Result struct {
	RunID    int64
	Job      string
	Status   string
	Counts   workspace.Counts
	Sources  []SourceResult
	Started  time.Time
	Finished time.Time
	// Joined: this process helped the run of that process (Join), and
	// Sources and Counts are what it did itself; the run's holder
	// rebuilds the history and finishes the run.
	Joined string
}

// SourceResult is one source's share of a run.
type SourceResult struct {
	Name   string
	Kind   string
	Counts workspace.Counts
	Err    string
	// Worker is the process that ran the source when it was another
	// (one that joined the run).
	Worker string
}

// sourcePanic is a panic raised while a source ran, carried to RunJob's
// caller with the goroutine's stack.
type sourcePanic struct {
	source string
	value  any
	stack  []byte
}

func (p *sourcePanic) Error() string {
	return fmt.Sprintf("source %s: %v\n%s", p.source, p.value, p.stack)
}

// lockTTL bounds how long a crashed process blocks a job.
const lockTTL = 2 * time.Minute

func (e *Engine) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

// RunJob runs one job to completion (or until ctx is cancelled, in which
// case the last checkpoint is committed and ctx.Err() returned).
func (e *Engine) RunJob(ctx context.Context, cfgFile string, job *Job) (*Result, error) {
	mode := e.Mode
	if mode == "" {
		mode = ModeSync
	}
	if e.Holder == "" {
		e.Holder = HolderID()
	}
	lockName := "job:" + job.Name
	for {
		err := e.lockJob(ctx, lockName)
		if err == nil {
			break
		}
		if !e.Join || !errors.Is(err, workspace.ErrLocked) {
			return nil, fmt.Errorf("job %s: %w", job.Name, err)
		}
		res, joined, err := e.joinRun(ctx, cfgFile, job)
		if joined || err != nil {
			return res, err
		}
		if err := waitPoll(ctx); err != nil {
			return nil, err
		}
	}
	stopRefresh := e.refreshLock(ctx, lockName)
	defer func() {
		stopRefresh()
		_ = e.Catalog.Unlock(context.WithoutCancel(ctx), lockName, e.Holder)
	}()
	runID, err := e.Catalog.StartRunBy(ctx, job.Name, mode, e.Holder)
	if err != nil {
		return nil, err
	}
	_, sources := enabledSources(job)
	if err := e.Catalog.AddUnits(ctx, runID, sources); err != nil {
		return nil, err
	}
	res := &Result{RunID: runID, Job: job.Name, Started: time.Now()}
	log := e.logger().With("job", job.Name, "run", runID)
	log.Info("run started", "mode", mode, "sources", len(job.Sources))
	var runErr error
	for _, sr := range e.runUnits(ctx, log, cfgFile, job, runID, true) {
		res.Sources = append(res.Sources, sr)
		res.Counts.Add(sr.Counts)
	}
	if ctx.Err() != nil {
		runErr = ctx.Err()
	}
	repaired := 0
	if runErr == nil {
		if repaired, err = e.repairDerived(ctx); err != nil {
			runErr = err
		} else if repaired > 0 {
			log.Info("computed text sketches an interrupted run had left out", "blobs", repaired)
			res.Counts.Repaired += int64(repaired)
		}
	}
	if runErr == nil && (repaired > 0 || res.Counts.New+res.Counts.Duplicate+res.Counts.HashHits > 0 || e.needsRebuild(ctx)) {
		if err := e.Rebuild(ctx); err != nil {
			runErr = err
		}
	}
	if n, err := e.pendingRetries(context.WithoutCancel(ctx), job); err == nil {
		res.Counts.RetriesPending = n
	} else if runErr == nil {
		runErr = err
	}
	res.Finished = time.Now()
	res.Status = status(res, runErr)
	errText := ""
	if runErr != nil {
		errText = runErr.Error()
	}
	fctx := context.WithoutCancel(ctx)
	if err := e.Catalog.FinishRun(fctx, runID, res.Status, res.Counts, errText); err != nil && runErr == nil {
		runErr = err
	}
	log.Info("run finished", "status", res.Status, "new", res.Counts.New, "duplicate", res.Counts.Duplicate, "known", res.Counts.Known, "problems", res.Counts.Problems)
	return res, runErr
}

// pendingRetries counts the items the job's sources still owe the store.
func (e *Engine) pendingRetries(ctx context.Context, job *Job) (int64, error) {
	names := make([]string, 0, len(job.Sources))
	for _, sc := range job.Sources {
		names = append(names, sc.Name)
	}
	per, err := e.Catalog.PendingRetries(ctx, names...)
	var n int64
	for _, v := range per {
		n += v
	}
	return n, err
}

// needsRebuild reports whether sightings exist that no version holds (a
// run interrupted after ingesting, before rebuilding).
func (e *Engine) needsRebuild(ctx context.Context) bool {
	st, err := e.Catalog.HistoryIndex(ctx)
	return err != nil || st.Full || st.Pending || st.Dirty > 0 || st.Cap != e.keyCap()
}

func status(res *Result, runErr error) string {
	switch {
	case errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded):
		return workspace.StatusInterrupted
	case runErr != nil:
		return workspace.StatusFailed
	}
	for _, s := range res.Sources {
		if s.Err != "" {
			return workspace.StatusProblems
		}
	}
	if res.Counts.Problems > 0 || res.Counts.RetriesPending > 0 {
		return workspace.StatusProblems
	}
	return workspace.StatusOK
}

func (e *Engine) refreshLock(ctx context.Context, name string) func() {
	return every(ctx, lockTTL/4, func(ctx context.Context) {
		if err := e.Catalog.Lock(ctx, name, e.Holder, lockTTL); err != nil && ctx.Err() == nil {
			e.logger().Error("lock refresh failed", "lock", name, "err", err)
		}
	})
}

// runSource scans one source and ingests what it finds.
func (e *Engine) runSource(ctx context.Context, log *slog.Logger, cfgFile string, job *Job, sc SourceConfig, part *string, runID int64, shared *runShared) SourceResult {
	log = log.With("source", sc.Name)
	if part != nil {
		log = log.With("part", *part)
	}
	sr := SourceResult{Name: sc.Name, Kind: sc.Type}
	// The observer hears of a partitioned source once, from its own
	// unit; its parts only add counts (and failures).
	if e.Observer != nil && part == nil {
		e.Observer.SourceStarted(job.Name, sc.Name)
	}
	finish := func(err error) {
		if part == nil || err != nil {
			e.finishObserve(job, sc, sr.Counts, err)
		}
	}
	openFn := e.Open
	if openFn == nil {
		openFn = connectors.New
	}
	src, err := openFn(sc.Connector(cfgFile, e.Env))
	if err != nil {
		sr.Err = err.Error()
		sr.Counts = workspace.Counts{Problems: 1}
		e.recordSourceProblem(ctx, runID, sc.Name, err)
		log.Error("source could not start", "err", err)
		finish(err)
		return sr
	}
	defer src.Close()
	sr.Kind = src.Kind()
	ing := newIngest(e, job, sc, src, runID, log, shared)
	parts, partitioned := src.(connectors.Partitioner)
	switch {
	case part != nil && !partitioned:
		err = fmt.Errorf("source %s: a %s source has no parts", sc.Name, sr.Kind)
	case part != nil:
		ing.onPart(*part)
	case sc.Partition && !partitioned:
		log.Warn("this kind of source cannot be partitioned: it is scanned whole", "kind", sr.Kind)
	case sc.Partition:
		ing.split = true
	}
	if err == nil {
		err = ing.run(ctx)
	}
	sr.Counts = ing.finalCounts()
	if err == nil && ing.split && !ing.rescan {
		err = e.splitSource(ctx, log, job, sc, src, parts, runID, shared, &sr)
	}
	if err != nil {
		sr.Err = err.Error()
		if ctx.Err() == nil {
			sr.Counts.Problems++ // the source's own failure: not in the observer's changes
			e.recordSourceProblem(ctx, runID, sc.Name, err)
		}
		log.Error("source stopped", "err", err)
	}
	finish(err)
	return sr
}

// splitSource lists a partitioned source's parts and adds one unit of the
// run per part, for whichever worker comes next. A part that had a
// cursor and is no longer listed (a mailbox deleted, a folder removed, a
// library no longer configured) is scanned here once from that cursor,
// which reports what it held gone, and its cursor is dropped.
func (e *Engine) splitSource(ctx context.Context, log *slog.Logger, job *Job, sc SourceConfig, src connectors.Source, p connectors.Partitioner,
	runID int64, shared *runShared, sr *SourceResult) error {
	parts, err := p.Parts(ctx)
	if err != nil {
		return fmt.Errorf("listing the parts of source %s: %w", sc.Name, err)
	}
	had, err := e.Catalog.PartCursors(ctx, sc.Name)
	if err != nil {
		return err
	}
	for _, old := range had {
		if slices.Contains(parts, old) {
			continue
		}
		log.Info("part no longer at the source", "part", old)
		ing := newIngest(e, job, sc, src, runID, log.With("part", old), shared)
		ing.onPart(old)
		err := ing.run(ctx)
		sr.Counts.Add(ing.finalCounts())
		if err != nil {
			return err
		}
		if err := e.Catalog.ResetCursor(ctx, ing.key); err != nil {
			return err
		}
	}
	units := make([]string, len(parts))
	for i, part := range parts {
		units[i] = workspace.PartKey(sc.Name, part)
	}
	log.Info("source split into parts", "parts", len(parts))
	return e.Catalog.AddUnits(ctx, runID, units)
}

func (e *Engine) finishObserve(job *Job, sc SourceConfig, counts workspace.Counts, err error) {
	if e.Observer != nil {
		e.Observer.SourceFinished(job.Name, sc.Name, counts, err)
	}
}

func (e *Engine) recordSourceProblem(ctx context.Context, runID int64, source string, err error) {
	b := &workspace.Batch{RunID: runID, Items: []workspace.RunItem{{Source: source, Ref: "", Name: source, Action: string(ActProblem), Reason: "source-failed", Detail: err.Error()}}}
	if _, cerr := e.Catalog.Commit(context.WithoutCancel(ctx), b); cerr != nil {
		e.logger().Error("recording problem failed", "source", source, "err", cerr)
	}
}

// sortedKinds lists hash kinds in lookup order: sha256 first, then
// quickxor, then the rest alphabetically.
func sortedKinds(h map[string]string) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	rank := func(k string) int {
		switch k {
		case connectors.HashSHA256:
			return 0
		case connectors.HashQuickXor:
			return 1
		}
		return 2
	}
	sort.Slice(out, func(i, j int) bool {
		if rank(out[i]) != rank(out[j]) {
			return rank(out[i]) < rank(out[j])
		}
		return out[i] < out[j]
	})
	return out
}
