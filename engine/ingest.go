package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/textsketch"
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
}

// runShared is what a run's sources, ingesting side by side, share: the
// blobs stored in this run but maybe not committed yet, by hash
// kind:value, so that content two sources hold is stored (and counted
// new) once.
type runShared struct {
	mu      sync.Mutex
	pending map[string]dedupe.Sums
}

func newRunShared() *runShared { return &runShared{pending: map[string]dedupe.Sums{}} }

func (r *runShared) lookup(key string) (dedupe.Sums, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.pending[key]
	return s, ok
}

// epoch is the fetches started between two checkpoints.
type epoch struct {
	wg  sync.WaitGroup
	cut atomic.Bool // a fetch ended after the run was cancelled: its item may be missing
	// held: an item of this epoch failed and cannot wait on the retry list
	// (the source cannot list items again by ref, or the problem names no
	// item), so no cursor may cover it.
	held atomic.Bool
}

// commitTask is a checkpoint waiting for its epoch's fetches.
type commitTask struct {
	epoch  *epoch
	cursor connectors.Cursor
}

func newIngest(e *Engine, job *Job, sc SourceConfig, src connectors.Source, runID int64, log *slog.Logger, shared *runShared) *ingest {
	n := job.Concurrency
	if n <= 0 {
		n = 4
	}
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
	}
}

func (in *ingest) run(ctx context.Context) error {
	cur, err := in.e.Catalog.Cursor(ctx, in.sc.Name)
	if err != nil {
		return err
	}
	in.ctx = ctx
	in.committed = cur
	go in.commitLoop(ctx)
	if err := in.drainRetries(ctx); err != nil && ctx.Err() == nil {
		// The items stay on the list; the scan still runs.
		in.Problem(ctx, connectors.Problem{Name: in.sc.Name, Err: fmt.Errorf("retrying earlier failures: %w", err)})
	}
	if in.rescan {
		cur = nil
	}
	next, scanErr := in.src.Scan(ctx, cur, in)
	in.wg.Wait()
	close(in.tasks)
	<-in.stopped
	if scanErr == nil {
		scanErr = in.fatalErr()
	}
	in.mu.Lock()
	last := in.epoch
	in.mu.Unlock()
	if in.blocked || last.held.Load() {
		// An earlier checkpoint was held back, or an item after the last
		// one failed and cannot be retried by ref: no cursor may pass it.
		next = nil
	}
	if scanErr == nil && (in.blocked || last.cut.Load()) {
		scanErr = ctx.Err() // a stop cut a fetch short after the scan ended
	}
	if in.rescan && scanErr == nil && next != nil {
		// A whole scan from the start ended and may commit its cursor:
		// what it did not report failing again is no longer owed (listed
		// and stored, known, skipped or gone).
		in.mu.Lock()
		in.settleOwed()
		in.mu.Unlock()
	}
	var cursors map[string]connectors.Cursor
	if scanErr == nil && next != nil {
		cursors = map[string]connectors.Cursor{in.sc.Name: next}
	}
	// Commit what was ingested even when the scan failed or was cancelled:
	// sightings are safe to keep; only the cursor waits for a clean end.
	if err := in.flush(context.WithoutCancel(ctx), cursors); err != nil && scanErr == nil {
		scanErr = err
	}
	return scanErr
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
	key := string(it.Ref) + "\x00" + it.Fingerprint
	in.mu.Lock()
	dup := in.seen[key]
	in.seen[key] = true
	in.mu.Unlock()
	if dup {
		return nil
	}
	if it.Skip == "" && in.job.MaxSize > 0 && it.Size > in.job.MaxSize {
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

// recoverItem turns a panic while fetching one item (in a connector's Open
// or reader) into that item's problem: the goroutine is the engine's, so no
// caller up the stack could recover it, and the daemon would die.
func (in *ingest) recoverItem(ep *epoch, it *connectors.Item) {
	if v := recover(); v != nil {
		in.log.Error("panic while fetching an item", "item", it.Name, "ref", string(it.Ref), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		in.problem(ep, it, fmt.Errorf("panic: %v", v))
	}
}

// lookupHashes finds stored content by the item's remote hashes.
func (in *ingest) lookupHashes(ctx context.Context, it *connectors.Item) (dedupe.Sums, string, bool, error) {
	for _, kind := range sortedKinds(it.Hashes) {
		v := it.Hashes[kind]
		if v == "" {
			continue
		}
		s, ok := in.shared.lookup(kind + ":" + v)
		if ok {
			return s, kind, true, nil
		}
		s, ok, err := in.e.Catalog.BlobByHash(ctx, kind, v)
		if err != nil {
			return s, "", false, err
		}
		if ok {
			if has, err := in.e.Blobs.Has(ctx, s.ID); err != nil || has {
				return s, kind, has, err
			}
		}
	}
	return dedupe.Sums{}, "", false, nil
}

// sketchMaxBytes bounds the items whose text is sketched: larger ones go
// straight to the blob store, because the sketcher would only read (and
// hash) every byte again to report ErrTooLarge.
const sketchMaxBytes = 512 << 20

// sketched is the text sketcher's result for one item.
type sketched struct {
	c   workspace.Content
	err error
}

// store streams rc into the blob store, sketching its text on the second
// core as the bytes go by (items up to sketchMaxBytes).
func (in *ingest) store(ctx context.Context, it *connectors.Item, rc io.Reader) (dedupe.Sums, sketched, error) {
	if it.Size > sketchMaxBytes {
		sums, err := in.e.Blobs.Put(ctx, rc)
		return sums, sketched{err: textsketch.ErrTooLarge}, err
	}
	pr, pw := io.Pipe()
	done := make(chan sketched, 1)
	go func() {
		var c history.Content
		var err error
		func() {
			defer func() {
				if v := recover(); v != nil { // a sketcher bug must not kill the process
					err = fmt.Errorf("text sketch: panic: %v", v)
				}
			}()
			c, err = textsketch.Options{MaxBytes: sketchMaxBytes}.Sketch(it.Name, pr, it.Size)
		}()
		io.Copy(io.Discard, pr) // drain whatever the sketcher did not read
		done <- sketched{workspace.Content{Kind: c.Kind, Tokens: c.Tokens, Sketch: c.Sketch}, err}
	}()
	sums, err := in.e.Blobs.Put(ctx, io.TeeReader(rc, pw))
	pw.CloseWithError(err)
	return sums, <-done, err
}

// fetch streams one item into the blob store. Text is sketched only for
// content new to the store: read back from the store after the write (the
// bytes are still in the page cache), or, in a dry run where nothing is
// stored, teed from the download.
func (in *ingest) fetch(ctx context.Context, ep *epoch, it *connectors.Item) {
	if ctx.Err() != nil {
		return
	}
	rc, err := in.src.Open(ctx, it)
	if err != nil {
		in.problem(ep, it, err)
		return
	}
	defer rc.Close()
	_, dry := in.e.Blobs.(dedupe.HashOnly)
	var sums dedupe.Sums
	var res sketched
	if dry {
		sums, res, err = in.store(ctx, it, rc)
	} else {
		sums, err = in.e.Blobs.Put(ctx, rc)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		in.problem(ep, it, err)
		return
	}
	if want := it.Hashes[connectors.HashSHA256]; want != "" && want != sums.ID.String() {
		in.problem(ep, it, fmt.Errorf("content sha256 %s differs from the source's %s", sums.ID, want))
		return
	}
	_, known, err := in.e.Catalog.BlobByHash(ctx, connectors.HashSHA256, sums.ID.String())
	if err != nil {
		in.fail(err)
		return
	}
	_, pend := in.shared.lookup(connectors.HashSHA256 + ":" + sums.ID.String())
	in.count(workspace.Counts{Fetched: 1, BytesFetched: sums.Size})
	if known || pend {
		in.addSighting(it, sums, nil, ActDuplicate, "identical content already stored", workspace.Counts{})
		return
	}
	if !dry {
		res = in.sketchStored(ctx, it, sums)
		if ctx.Err() != nil {
			// Stopped before the text was sketched: leave the item to the
			// next run rather than record new content without its sketch
			// (it would never be sketched: the content is then known).
			return
		}
	}
	var content *workspace.Content
	if res.err == nil && len(res.c.Sketch) > 0 {
		res.c.Blob = sums.ID
		content = &res.c
	}
	in.addSighting(it, sums, content, ActNew, "", workspace.Counts{})
}

// sketchStored sketches the text of a blob just written to the store.
func (in *ingest) sketchStored(ctx context.Context, it *connectors.Item, sums dedupe.Sums) (out sketched) {
	if sums.Size > sketchMaxBytes {
		return sketched{err: textsketch.ErrTooLarge}
	}
	rc, err := in.e.Blobs.Open(ctx, sums.ID)
	if err != nil {
		return sketched{err: err}
	}
	defer rc.Close()
	defer func() {
		if v := recover(); v != nil { // a sketcher bug must not kill the process
			out = sketched{err: fmt.Errorf("text sketch: panic: %v", v)}
		}
	}()
	c, err := textsketch.Options{MaxBytes: sketchMaxBytes, SkipHash: true, NoDrain: true}.Sketch(it.Name, rc, sums.Size)
	return sketched{workspace.Content{Kind: c.Kind, Tokens: c.Tokens, Sketch: c.Sketch}, err}
}

// addSighting records a sighting of stored content; extra is counted with
// it (a hash hit).
func (in *ingest) addSighting(it *connectors.Item, sums dedupe.Sums, content *workspace.Content, act Action, reason string, extra workspace.Counts) {
	dest := in.job.route(in.sc, it)
	s := workspace.Sighting{
		Source: in.sc.Name, Kind: it.Lineage.Kind, Ref: string(it.Ref), Fingerprint: it.Fingerprint,
		Blob: sums.ID, Name: it.Name, Path: it.Path, Size: sums.Size, Time: it.ModTime, Author: it.Author,
		Workspace: dest.Workspace, Folder: dest.Folder, Lineage: it.Lineage, RunID: in.runID,
	}
	ri := workspace.RunItem{Source: in.sc.Name, Ref: string(it.Ref), Name: it.Name, Size: sums.Size, Action: string(act), Reason: reason, Blob: sums.ID}
	d := extra
	if act == ActDuplicate {
		d.Duplicate, d.BytesSaved = 1, sums.Size
	} else {
		d.New, d.BytesNew = 1, sums.Size
	}
	in.mu.Lock()
	sh := in.shared
	sh.mu.Lock() // lock order: in.mu, then shared.mu
	_, pend := sh.pending[connectors.HashSHA256+":"+sums.ID.String()]
	if act == ActNew && pend {
		// Another fetch of this run stored the same content first.
		act, ri.Action, ri.Reason = ActDuplicate, string(ActDuplicate), "identical content already stored"
		d.New, d.BytesNew, d.Duplicate, d.BytesSaved = 0, 0, 1, sums.Size
	}
	switch {
	case act == ActNew:
		in.batch.Blobs = append(in.batch.Blobs, workspace.Blob{Sums: sums, Hashes: it.Hashes, Sketched: true, Fresh: true})
		sh.pending[connectors.HashSHA256+":"+sums.ID.String()] = sums
		sh.pending[connectors.HashQuickXor+":"+sums.QuickXor] = sums
		if content != nil {
			in.batch.Contents = append(in.batch.Contents, *content)
		}
	case pend || len(it.Hashes) > 0:
		// The blob's row, in case the source that stored it (another of
		// this run's) has not committed yet; and the extra names
		// (imap-part keys, md5...) for later runs.
		in.batch.Blobs = append(in.batch.Blobs, workspace.Blob{Sums: sums, Hashes: it.Hashes})
	}
	for k, v := range it.Hashes {
		sh.pending[k+":"+v] = sums
	}
	sh.mu.Unlock()
	in.batch.Sightings = append(in.batch.Sightings, s)
	in.batch.Items = append(in.batch.Items, ri)
	d = in.tally(d)
	n := len(in.batch.Sightings)
	in.mu.Unlock()
	in.notify(d)
	switch {
	case n >= 4*flushEvery:
		// The committer is behind: commit here, holding this fetch back.
		if err := in.flush(context.Background(), nil); err != nil {
			in.fail(err)
		}
	case n >= flushEvery:
		select {
		case in.kick <- struct{}{}:
		default: // already asked
		}
	}
}

func (in *ingest) record(ri workspace.RunItem, d workspace.Counts) {
	in.mu.Lock()
	in.batch.Items = append(in.batch.Items, ri)
	d = in.tally(d)
	in.mu.Unlock()
	in.notify(d)
}

// problem records a failed fetch of an item of epoch ep.
func (in *ingest) problem(ep *epoch, it *connectors.Item, err error) {
	in.itemProblem(ep, connectors.Problem{Ref: it.Ref, Name: it.Name, Err: err})
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

// itemProblem records a per-item problem of epoch ep and keeps the item
// from being lost: it goes on the source's retry list, which every later
// run drains first whatever the cursor says; where it cannot (the source
// lists nothing again by ref, or the problem names no item), no cursor
// that covers ep is committed. An item the source says is gone comes off
// the list.
func (in *ingest) itemProblem(ep *epoch, p connectors.Problem) {
	reason := problemReason(p.Err)
	in.log.Warn("item problem", "item", p.Name, "ref", string(p.Ref), "reason", reason, "err", p.Err)
	_, retrier := in.src.(connectors.Retrier)
	in.mu.Lock()
	in.batch.Items = append(in.batch.Items, workspace.RunItem{Source: in.sc.Name, Ref: string(p.Ref), Name: p.Name, Size: -1, Action: string(ActProblem), Reason: reason, Detail: p.Error()})
	d := in.tally(workspace.Counts{Problems: 1})
	switch {
	case reason == "bad-metadata":
		// The item itself was reported: nothing to retry or hold for.
	case p.Ref == "":
		ep.held.Store(true)
	case reason == "vanished":
		in.batch.Resolved = append(in.batch.Resolved, workspace.RetryKey{Source: in.sc.Name, Ref: string(p.Ref)})
		in.batch.Marks = append(in.batch.Marks, workspace.Mark{Source: in.sc.Name, Ref: string(p.Ref), Gone: true})
	default:
		in.batch.Retries = append(in.batch.Retries, workspace.Retry{Source: in.sc.Name, Ref: string(p.Ref), Name: p.Name, Reason: reason, Detail: p.Error()})
		if !retrier {
			ep.held.Store(true)
		}
	}
	if _, ok := in.owed[string(p.Ref)]; ok {
		in.owed[string(p.Ref)] = true
	}
	in.mu.Unlock()
	in.notify(d)
}

// problemReason names why an item failed.
func problemReason(err error) string {
	reason := "unreadable"
	switch {
	case errors.Is(err, connectors.ErrPermission):
		reason = "permission-denied"
	case errors.Is(err, connectors.ErrNotFound):
		reason = "vanished"
	case errors.Is(err, connectors.ErrMetadata):
		reason = "bad-metadata"
	case errors.Is(err, connectors.ErrChanged):
		reason = "changed-while-reading"
	case connectors.IsRetryable(err):
		reason = "retry-next-run"
	}
	return reason
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

// Checkpoint implements connectors.Sink: the cursor is committed, with
// the batch, once every fetch started before this call has finished. The
// commit happens in the background (commitLoop); the scan goes on.
func (in *ingest) Checkpoint(ctx context.Context, c connectors.Cursor) error {
	if err := in.fatalErr(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	in.countSource()
	in.mu.Lock()
	t := commitTask{epoch: in.epoch, cursor: c}
	in.epoch = new(epoch)
	in.mu.Unlock()
	select {
	case in.tasks <- t: // blocks while two checkpoints wait: back-pressure
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop commits checkpoints in order, and full batches when asked.
// A checkpoint's cursor is committed only if every fetch of its epoch, and
// of the epochs before, ran to the end: after a fetch was cut short by a
// stop, or after a fatal error, no later cursor is committed (it would
// cover an item that may be missing). A stop still commits the checkpoints
// whose fetches had finished.
func (in *ingest) commitLoop(ctx context.Context) {
	defer close(in.stopped)
	for {
		select {
		case t, ok := <-in.tasks:
			if !ok {
				return
			}
			t.epoch.wg.Wait()
			if t.epoch.cut.Load() || t.epoch.held.Load() || in.fatalErr() != nil {
				in.blocked = true
			}
			if in.blocked {
				continue // the cursor stays where it was
			}
			if err := in.flush(context.WithoutCancel(ctx), map[string]connectors.Cursor{in.sc.Name: t.cursor}); err != nil {
				in.fail(err)
			}
		case <-in.kick:
			if err := in.flush(context.WithoutCancel(ctx), nil); err != nil {
				in.fail(err)
			}
		}
	}
}

func (in *ingest) flush(ctx context.Context, cursors map[string]connectors.Cursor) error {
	in.commit.Lock()
	defer in.commit.Unlock()
	in.mu.Lock()
	b := in.batch
	in.batch = workspace.Batch{RunID: in.runID}
	in.mu.Unlock()
	b.Cursors = cursors
	if c, ok := cursors[in.sc.Name]; ok && len(cursors) == 1 && bytes.Equal(c, in.committed) {
		b.Cursors = nil // already stored: a re-scan of something unchanged
	}
	if b.Empty() {
		return nil
	}
	// New blobs must be durable before a committed sighting names them. A
	// blob whose background write failed is not committed, nor anything
	// that names it, nor the cursor: the next run fetches it again.
	var storeErr error
	if f, ok := in.e.Blobs.(dedupe.Flusher); ok {
		if len(b.Blobs) > 0 {
			storeErr = f.Flush(ctx)
		}
		if n := in.keepStored(ctx, &b); n > 0 && storeErr == nil {
			storeErr = fmt.Errorf("%d items' content is not in the blob store", n)
		}
		if storeErr != nil {
			b.Cursors = nil
		}
	}
	_, err := in.e.Catalog.Commit(ctx, &b)
	if err != nil {
		// Keep the records for the run's last commit; only the cursor,
		// which they were to move, is dropped.
		in.mu.Lock()
		in.batch.Blobs = append(b.Blobs, in.batch.Blobs...)
		in.batch.Contents = append(b.Contents, in.batch.Contents...)
		in.batch.Sightings = append(b.Sightings, in.batch.Sightings...)
		in.batch.Items = append(b.Items, in.batch.Items...)
		in.batch.Retries = append(b.Retries, in.batch.Retries...)
		in.batch.Resolved = append(b.Resolved, in.batch.Resolved...)
		in.batch.Marks = append(b.Marks, in.batch.Marks...)
		in.mu.Unlock()
		return err
	}
	if storeErr != nil {
		return fmt.Errorf("blob store: %w", storeErr)
	}
	if c, ok := b.Cursors[in.sc.Name]; ok {
		in.committed = c
	}
	return nil
}

// keepStored drops from b every record that names content stored in this
// run but not in the blob store (its write failed after Put returned),
// recording those items as problems; it returns how many it dropped.
// Content committed by earlier runs is not looked at.
func (in *ingest) keepStored(ctx context.Context, b *workspace.Batch) int {
	missing := map[dedupe.ID]bool{}
	for _, s := range b.Sightings {
		if _, checked := missing[s.Blob]; checked {
			continue
		}
		if _, thisRun := in.shared.lookup(connectors.HashSHA256 + ":" + s.Blob.String()); !thisRun {
			continue
		}
		has, err := in.e.Blobs.Has(ctx, s.Blob)
		missing[s.Blob] = err != nil || !has
	}
	n := 0
	sightings := b.Sightings[:0]
	for _, s := range b.Sightings {
		if missing[s.Blob] {
			n++
			continue
		}
		sightings = append(sightings, s)
	}
	if n == 0 {
		return 0
	}
	b.Sightings = sightings
	blobs := b.Blobs[:0]
	for _, bl := range b.Blobs {
		if !missing[bl.Sums.ID] {
			blobs = append(blobs, bl)
		}
	}
	b.Blobs = blobs
	contents := b.Contents[:0]
	for _, c := range b.Contents {
		if !missing[c.Blob] {
			contents = append(contents, c)
		}
	}
	b.Contents = contents
	d := workspace.Counts{Problems: int64(n)}
	for i, it := range b.Items {
		if missing[it.Blob] {
			// Counted new or duplicate when added.
			if it.Action == string(ActNew) {
				d.New--
			} else {
				d.Duplicate--
			}
			b.Items[i].Action, b.Items[i].Reason = string(ActProblem), "retry-next-run"
			b.Items[i].Detail = "the content could not be written to the blob store"
			b.Items[i].Blob = dedupe.ID{}
			b.Retries = append(b.Retries, workspace.Retry{Source: it.Source, Ref: it.Ref, Name: it.Name, Reason: "retry-next-run", Detail: b.Items[i].Detail})
		}
	}
	in.count(d)
	return n
}

// drainRetries asks the source again for the items on its retry list,
// before the scan. Once every item Retry reported has been handled (stored,
// known, skipped or failed again), the refs it did not report as problems
// come off the list in the next commit, after the records of those items:
// a kill before that commit leaves them on the list.
func (in *ingest) drainRetries(ctx context.Context) error {
	list, err := in.e.Catalog.Retries(ctx, in.sc.Name)
	if err != nil || len(list) == 0 {
		return err
	}
	in.mu.Lock()
	in.owed = make(map[string]bool, len(list))
	for _, e := range list {
		in.owed[e.Ref] = false
	}
	in.mu.Unlock()
	r, ok := in.src.(connectors.Retrier)
	if !ok {
		// It cannot list items by ref: scan it all again this once (its
		// known items cost a lookup each); what the scan does not report
		// failing again comes off the list when it ends (see run).
		in.log.Info("scanning from the start for items that failed before", "items", len(list))
		in.rescan = true
		return nil
	}
	refs := make([]connectors.Ref, len(list))
	for i, e := range list {
		refs[i] = connectors.Ref(e.Ref)
	}
	in.log.Info("retrying items that failed before", "items", len(list))
	err = r.Retry(ctx, refs, in)
	in.wg.Wait() // every fetch Retry started has been recorded
	in.mu.Lock()
	d := workspace.Counts{Retried: int64(len(list))}
	if err == nil && ctx.Err() == nil && in.fatal == nil {
		d.RetriesResolved = int64(in.settleOwed())
	}
	in.owed = nil
	d = in.tally(d)
	in.mu.Unlock()
	in.notify(d)
	return err
}

// settleOwed (mu held) takes off the retry list, in the next commit, every
// owed ref not reported failing again, and stops tracking them; it returns
// how many it took off.
func (in *ingest) settleOwed() int {
	n := 0
	for ref, again := range in.owed {
		if !again {
			in.batch.Resolved = append(in.batch.Resolved, workspace.RetryKey{Source: in.sc.Name, Ref: ref})
			n++
		}
	}
	in.owed = nil
	return n
}
