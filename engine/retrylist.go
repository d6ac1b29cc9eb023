package engine

import (
	"context"
	"errors"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/workspace"
)

// The retry list: an item that failed goes on its source's persistent
// retry list in the same commit as its problem record, so the cursor may
// move past it; every run hands the list back to the source
// (connectors.Retrier) before it scans.

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
