package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/workspace"
)

// flushEvery bounds the sightings held in memory between commits.
const flushEvery = 500

// ingest is the Sink for one source's scan in one run.
type ingest struct {
	e     *Engine
	job   *Job
	sc    SourceConfig
	src   connectors.Source
	runID int64
	log   *slog.Logger
	sem   chan struct{}
	wg    sync.WaitGroup // every fetch of the run
	// ctx is the run's: fetches outlive the context a connector passes to
	// Item (a scan worker's, cancelled when its mailbox is done).
	ctx context.Context

	// Checkpoints are committed in the background, in order, by commitLoop:
	// each waits only for the fetches started before it (its epoch), so
	// the scan and the fetches go on while the disk syncs and SQLite
	// commits.
	tasks   chan commitTask
	kick    chan struct{} // a batch is full: commit it without a cursor
	stopped chan struct{} // commitLoop has returned

	mu     sync.Mutex // guards everything below
	batch  workspace.Batch
	counts workspace.Counts
	// meter is the source's counters, if it keeps any; metered is what
	// they were when last read into counts.
	meter   connectors.Metered
	metered connectors.SourceCounters
	// shared: what the job's sources stored in this run (see runShared)
	shared *runShared
	// refs reported in this run (a connector may repeat an item)
	seen  map[string]bool
	fatal error
	epoch *epoch // fetches started since the last checkpoint
	// blocked: no more cursors may be committed (set by commitLoop, read
	// after it has stopped).
	blocked bool
	// committed is the source's cursor as stored (guarded by commit): a
	// checkpoint that repeats it is not written again.
	committed connectors.Cursor
	commit    sync.Mutex // serialises commits
	// owed: the refs on the source's retry list at the start of the run,
	// true once one is reported failing again (guarded by mu).
	owed map[string]bool
	// rescan: the source has items on its retry list and cannot list
	// them by ref, so this run scans it from the start.
	rescan bool

	// key is the cursor's key: the source's name, or name/part for one
	// part of a partitioned source (part set). split: this is a
	// partitioned source's own unit, which only drains the retry list
	// (its parts are scanned as units of their own).
	key   string
	part  *string
	split bool
}

func newIngest(e *Engine, job *Job, sc SourceConfig, src connectors.Source, runID int64, log *slog.Logger, shared *runShared) *ingest {
	n := fetchConcurrency(job, src)
	meter, _ := src.(connectors.Metered)
	return &ingest{
		e: e, job: job, sc: sc, src: src, runID: runID, log: log,
		sem:     make(chan struct{}, n),
		batch:   workspace.Batch{RunID: runID},
		meter:   meter,
		shared:  shared,
		seen:    map[string]bool{},
		epoch:   new(epoch),
		tasks:   make(chan commitTask, 2),
		kick:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		key:     sc.Name,
	}
}

// fetchConcurrency is how many items of src a run fetches at once: the
// job's concurrency, else what the source says pays off, else 4.
func fetchConcurrency(job *Job, src connectors.Source) int {
	n := job.Concurrency
	if c, ok := src.(connectors.Concurrent); ok && n <= 0 {
		n = c.Transfers()
	}
	if n <= 0 {
		n = 4
	}
	return n
}

// onPart makes the ingest scan one part of its partitioned source, under
// the part's own cursor.
func (in *ingest) onPart(part string) {
	in.key, in.part = workspace.PartKey(in.sc.Name, part), &part
}

func (in *ingest) run(ctx context.Context) error {
	cur, err := in.e.Catalog.Cursor(ctx, in.key)
	if err != nil {
		return err
	}
	in.ctx = ctx
	in.committed = cur
	go in.commitLoop(ctx)
	if in.part != nil {
		// A part: the source's unit drained the retry list.
		next, scanErr := in.src.(connectors.Partitioner).ScanPart(ctx, *in.part, cur, in)
		return in.finish(ctx, next, scanErr)
	}
	if err := in.drainRetries(ctx); err != nil && ctx.Err() == nil {
		// The items stay on the list; the scan still runs.
		in.Problem(ctx, connectors.Problem{Name: in.sc.Name, Err: fmt.Errorf("retrying earlier failures: %w", err)})
	}
	if in.split && !in.rescan {
		return in.finish(ctx, nil, nil)
	}
	// A source that cannot retry by ref is scanned whole from the start,
	// partitioned or not, so that the scan settles its retry list.
	if in.rescan {
		cur = nil
	}
	next, scanErr := in.src.Scan(ctx, cur, in)
	return in.finish(ctx, next, scanErr)
}

func (in *ingest) fatalErr() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fatal
}

// Every change of the source's counts goes through tally, and what it
// returns to notify: the observer hears each change once, as it happens,
// and the changes add up to the counts the source ends with.

// tally (mu held) adds d to the source's counts, with what the
// connector's counters grew by since they were last read, and returns
// the whole change.
func (in *ingest) tally(d workspace.Counts) workspace.Counts {
	if in.meter != nil {
		now := in.meter.Counters()
		d.Source = now.Sub(in.metered)
		in.metered = now
	}
	in.counts.Add(d)
	return d
}

// notify tells the observer about a change tally returned.
func (in *ingest) notify(d workspace.Counts) {
	if in.e.Observer != nil {
		in.e.Observer.Counted(in.job.Name, in.sc.Name, d)
	}
}

// count adds d to the source's counts.
func (in *ingest) count(d workspace.Counts) {
	in.mu.Lock()
	d = in.tally(d)
	in.mu.Unlock()
	in.notify(d)
}

// countSource reads the connector's counters into the source's counts,
// between items (at checkpoints): a long page of requests shows before
// its items do.
func (in *ingest) countSource() {
	if in.meter == nil {
		return
	}
	in.mu.Lock()
	d := in.tally(workspace.Counts{})
	in.mu.Unlock()
	if d.Source != (connectors.SourceCounters{}) {
		in.notify(d)
	}
}

// finalCounts reads the connector's counters a last time and returns the
// source's counts; the run's work on the source has ended.
func (in *ingest) finalCounts() workspace.Counts {
	in.countSource()
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts.Clone()
}

// Item implements connectors.Sink.
func (in *ingest) Item(ctx context.Context, it *connectors.Item) error {
	if err := in.fatalErr(); err != nil {
		return err
	}
	in.count(workspace.Counts{Scanned: 1})
	key := seenKey(it)
	in.mu.Lock()
	dup := in.seen[key]
	in.seen[key] = true
	in.mu.Unlock()
	if dup {
		return nil
	}
	if it.Skip == "" && in.tooLarge(it) {
		it.Skip = "size-limit"
	}
	if it.Skip != "" {
		in.record(workspace.RunItem{Source: in.sc.Name, Ref: string(it.Ref), Name: it.Name, Size: it.Size, Action: string(ActSkip), Reason: it.Skip},
			workspace.Counts{Skipped: 1, SkippedBy: map[string]int64{it.Skip: 1}})
		return nil
	}
	known, gone, err := in.e.Catalog.KnownSighting(ctx, in.sc.Name, string(it.Ref), it.Fingerprint)
	if err != nil {
		return err
	}
	if known {
		if gone { // seen gone before, listed again: back at the source
			in.mu.Lock()
			in.batch.Marks = append(in.batch.Marks, workspace.Mark{Source: in.sc.Name, Ref: string(it.Ref), Fingerprint: it.Fingerprint})
			in.mu.Unlock()
		}
		in.count(workspace.Counts{Known: 1})
		return nil
	}
	if sums, kind, ok, err := in.lookupHashes(ctx, it); err != nil {
		return err
	} else if ok {
		in.addSighting(it, sums, nil, ActDuplicate, "known content (by "+kind+"), not downloaded", workspace.Counts{HashHits: 1})
		return nil
	}
	select {
	case in.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	in.mu.Lock()
	ep := in.epoch
	in.mu.Unlock()
	ep.wg.Add(1)
	in.wg.Add(1)
	go func() {
		defer func() {
			if in.ctx.Err() != nil {
				ep.cut.Store(true) // maybe cut short: no cursor may cover it
			}
			<-in.sem
			ep.wg.Done()
			in.wg.Done()
		}()
		defer in.recoverItem(ep, it)
		in.fetch(in.ctx, ep, it)
	}()
	return nil
}

// tooLarge: the item is over the job's max_size (skipped "size-limit").
func (in *ingest) tooLarge(it *connectors.Item) bool {
	return in.job.MaxSize > 0 && it.Size > in.job.MaxSize
}

// seenKey names an item in ingest.seen: its ref and fingerprint.
func seenKey(it *connectors.Item) string { return string(it.Ref) + "\x00" + it.Fingerprint }

// Wants implements connectors.Wanter: whether Item would download it now
// (the same tests, in the same order, without their effects).
func (in *ingest) Wants(ctx context.Context, it *connectors.Item) (bool, error) {
	if it.Skip != "" || in.tooLarge(it) {
		return false, nil
	}
	in.mu.Lock()
	dup := in.seen[seenKey(it)]
	in.mu.Unlock()
	if dup {
		return false, nil
	}
	known, _, err := in.e.Catalog.KnownSighting(ctx, in.sc.Name, string(it.Ref), it.Fingerprint)
	if err != nil || known {
		return false, err
	}
	_, _, ok, err := in.lookupHashes(ctx, it)
	return err == nil && !ok, err
}

func (in *ingest) record(ri workspace.RunItem, d workspace.Counts) {
	in.mu.Lock()
	in.batch.Items = append(in.batch.Items, ri)
	d = in.tally(d)
	in.mu.Unlock()
	in.notify(d)
}

func (in *ingest) fail(err error) {
	in.mu.Lock()
	if in.fatal == nil {
		in.fatal = err
	}
	in.mu.Unlock()
}

// Problem implements connectors.Sink: the problem belongs to the items
// reported since the last checkpoint.
func (in *ingest) Problem(_ context.Context, p connectors.Problem) error {
	in.mu.Lock()
	ep := in.epoch
	in.mu.Unlock()
	in.itemProblem(ep, p)
	return nil
}

// Gone implements connectors.Sink: the copies g names are marked gone from
// the source in the next commit (their sightings and content stay).
func (in *ingest) Gone(ctx context.Context, g connectors.Gone) error {
	if err := in.fatalErr(); err != nil {
		return err
	}
	in.log.Info("no longer at the source", "item", g.Name, "ref", string(g.Ref), "why", g.Why)
	in.mu.Lock()
	in.batch.Marks = append(in.batch.Marks, workspace.Mark{Source: in.sc.Name, Ref: string(g.Ref), Under: g.Under, Gone: true})
	in.batch.Items = append(in.batch.Items, workspace.RunItem{Source: in.sc.Name, Ref: string(g.Ref), Name: g.Name, Size: -1, Action: string(ActGone), Reason: g.Why})
	d := in.tally(workspace.Counts{Gone: 1})
	in.mu.Unlock()
	in.notify(d)
	return nil
}
