package engine

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// The crash-safety rule, in one place: a committed cursor never covers an
// item that is not stored. The items a scan reports between two
// checkpoints form an epoch. A checkpoint's cursor is committed, in one
// catalog transaction with the records of its epoch and of every earlier
// one, only after every fetch of those epochs has ended and its blob is
// durable (dedupe.Flusher). A fetch cut short by a stop, a failure that
// cannot wait on the retry list (retrylist.go) or a fatal error blocks
// every later cursor of the run; the records committed so far stay, and
// the next run resumes from the last committed cursor.

// finish ends a scan that returned next and scanErr: it waits for every
// fetch and queued checkpoint, then commits what was ingested, with the
// scan's cursor only where no earlier checkpoint was held back, no fetch
// was cut short and no item failed past the last checkpoint.
func (in *ingest) finish(ctx context.Context, next connectors.Cursor, scanErr error) error {
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
		cursors = map[string]connectors.Cursor{in.key: next}
	}
	// Commit what was ingested even when the scan failed or was cancelled:
	// sightings are safe to keep; only the cursor waits for a clean end.
	if err := in.flush(context.WithoutCancel(ctx), cursors); err != nil && scanErr == nil {
		scanErr = err
	}
	return scanErr
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
			if err := in.flush(context.WithoutCancel(ctx), map[string]connectors.Cursor{in.key: t.cursor}); err != nil {
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
	if c, ok := cursors[in.key]; ok && len(cursors) == 1 && bytes.Equal(c, in.committed) {
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
	if c, ok := b.Cursors[in.key]; ok {
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
