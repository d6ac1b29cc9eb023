package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

const budget = "Finance/Budget.csv"

// dropped fails reads of one path as a lost connection does.
func dropped(path string) func(string) error {
	return func(p string) error {
		if p == path {
			return connectors.Retryable{Err: errors.New("connection reset by peer")}
		}
		return nil
	}
}

func sightingsOf(t *testing.T, cat *workspace.Catalog, ref string) int {
	t.Helper()
	n := 0
	err := cat.EachSighting(context.Background(), func(s workspace.Sighting) error {
		if s.Ref == ref {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func exportOf(t *testing.T, cat *workspace.Catalog) string {
	t.Helper()
	var buf bytes.Buffer
	if err := engine.ExportJSON(context.Background(), cat, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// An item that failed while the scan went on and checkpointed past it is
// fetched by the next run: the cursor moved, the retry list did not forget.
func TestFailedItemIsRetriedWhateverTheCursor(t *testing.T) {
	ref := newEnv(t)
	seed(ref.src)
	if _, err := ref.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	seed(e.src)
	e.src.FailOpen(dropped(budget))
	res, err := e.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workspace.StatusProblems || res.Counts.RetriesPending != 1 {
		t.Fatalf("first run: status %s counts %v; want problems with 1 retry pending", res.Status, res.Counts)
	}
	if cur, _ := e.cat.Cursor(context.Background(), "drive"); cur == nil {
		t.Fatal("no cursor committed: the test needs the cursor to move past the failed item")
	}
	list, _ := e.cat.Retries(context.Background(), "drive")
	if len(list) != 1 || list[0].Ref != budget || list[0].Reason != "retry-next-run" || list[0].Attempts != 1 {
		t.Fatalf("retry list %+v", list)
	}
	// Still failing: one attempt more, still pending.
	if res, err = e.run(context.Background()); err != nil || res.Counts.RetriesPending != 1 {
		t.Fatalf("second run: %v %v", err, res.Counts)
	}
	if list, _ = e.cat.Retries(context.Background(), "drive"); len(list) != 1 || list[0].Attempts != 2 {
		t.Fatalf("retry list after a second failure %+v", list)
	}
	e.src.FailOpen(nil) // the server is back
	res, err = e.run(context.Background())
	if err != nil || res.Status != workspace.StatusOK || res.Counts.RetriesPending != 0 || res.Counts.Retried != 1 {
		t.Fatalf("third run: %v status %s counts %v", err, res.Status, res.Counts)
	}
	if n := sightingsOf(t, e.cat, budget); n != 1 {
		t.Fatalf("%s stored %d times, want once", budget, n)
	}
	if got, want := exportOf(t, e.cat), exportOf(t, ref.cat); got != want {
		t.Fatalf("export after the retries differs from a clean run's\n got %s\nwant %s", got, want)
	}
	if probs, _ := e.cat.Check(context.Background()); len(probs) > 0 {
		t.Fatalf("check: %v", probs)
	}
}

// noRetry is a source that cannot list items again by ref.
type noRetry struct{ connectors.Source }

// A source without Retry keeps its cursor behind a failed item, so the
// next scan lists it again.
func TestSourceWithoutRetryHoldsItsCursor(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	eng := e.engine()
	open := eng.Open
	eng.Open = func(c connectors.Config) (connectors.Source, error) {
		s, err := open(c)
		return noRetry{s}, err
	}
	e.src.FailOpen(dropped(budget))
	res, err := eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
	if err != nil || res.Counts.RetriesPending != 1 {
		t.Fatalf("first run: %v %v", err, res.Counts)
	}
	e.src.FailOpen(nil)
	res, err = eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
	if err != nil || res.Status != workspace.StatusOK || res.Counts.RetriesPending != 0 {
		t.Fatalf("second run: %v %s %v", err, res.Status, res.Counts)
	}
	if n := sightingsOf(t, e.cat, budget); n != 1 {
		t.Fatalf("%s stored %d times, want once", budget, n)
	}
}

// An item that is gone from the source when it is retried leaves the list
// with a "vanished" problem; the run after that is clean.
func TestVanishedItemLeavesTheRetryList(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	e.src.FailOpen(dropped(budget))
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.src.FailOpen(nil)
	e.src.Remove(budget)
	res, err := e.run(context.Background())
	if err != nil || res.Counts.RetriesPending != 0 {
		t.Fatalf("run after the deletion: %v %v", err, res.Counts)
	}
	items, _ := e.cat.RunItems(context.Background(), res.RunID)
	reasons := map[string]string{}
	for _, it := range items {
		if it.Ref == budget {
			reasons[it.Action] = it.Reason
		}
	}
	if len(items) != 2 || reasons["problem"] != "vanished" || reasons["gone"] != "deleted" {
		t.Fatalf("run items %+v, want a vanished problem (retry) and a gone record (scan)", items)
	}
	if res, err = e.run(context.Background()); err != nil || res.Status != workspace.StatusOK {
		t.Fatalf("next run: %v %s %v", err, res.Status, res.Counts)
	}
}

// A blob whose row was committed without its text sketch (a kill between
// one source committing a duplicate and the source that stored it
// committing the sketch) is found by Check and completed by the next
// sync, with the history of a clean run.
func TestMissingSketchIsRepaired(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := exportOf(t, e.cat)
	db := e.cat.DB()
	victim := dedupe.Sum([]byte("quarter three report draft two with more numbers")).String()
	for _, q := range []string{`DELETE FROM blob_content WHERE blob_id = ?`, `UPDATE blobs SET sketched = 0 WHERE id = ?`} {
		if _, err := db.Exec(q, victim); err != nil {
			t.Fatal(err)
		}
	}
	probs, _ := e.cat.Check(context.Background())
	if len(probs) != 1 || !strings.Contains(probs[0], victim) || !strings.Contains(probs[0], "no text sketch") {
		t.Fatalf("check does not find the missing sketch: %v", probs)
	}
	res, err := e.run(context.Background())
	if err != nil || res.Counts.Repaired != 1 {
		t.Fatalf("sync: %v %v; want 1 repaired", err, res.Counts)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM blob_content WHERE blob_id = ?`, victim).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sketch rows %d %v", n, err)
	}
	if probs, _ := e.cat.Check(context.Background()); len(probs) > 0 {
		t.Fatalf("check after repair: %v", probs)
	}
	if got := exportOf(t, e.cat); got != want {
		t.Fatalf("history after repair differs from the clean run's")
	}
}

// Content found damaged in the store (verify marks it and moves the bytes
// aside) is fetched again by the next sync from the source that has it.
func TestDamagedContentIsFetchedAgain(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := exportOf(t, e.cat)
	ctx := context.Background()
	victim := dedupe.Sum([]byte("alpha project plan")) // two sightings
	if _, err := e.blobs.Quarantine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	n, err := e.cat.MarkDamaged(ctx, victim, "test: bytes wrong")
	if err != nil || n != 2 {
		t.Fatalf("MarkDamaged queued %d, %v; want 2 sightings", n, err)
	}
	if probs, _ := e.cat.Check(ctx); len(probs) != 1 || !strings.Contains(probs[0], "damaged") {
		t.Fatalf("check: %v", probs)
	}
	before := e.opens.Load()
	res, err := e.run(ctx)
	if err != nil || res.Status != workspace.StatusOK || res.Counts.RetriesPending != 0 {
		t.Fatalf("sync: %v %s %v", err, res.Status, res.Counts)
	}
	if got := e.opens.Load() - before; got < 1 {
		t.Fatalf("the damaged content was not fetched again (%d opens)", got)
	}
	rc, err := e.blobs.Open(ctx, victim)
	if err != nil {
		t.Fatalf("content not back in the store: %v", err)
	}
	sums, _ := dedupe.HashReader(rc)
	rc.Close()
	if sums.ID != victim {
		t.Fatalf("stored content hashes to %s", sums.ID)
	}
	if probs, _ := e.cat.Check(ctx); len(probs) > 0 {
		t.Fatalf("check after the repair: %v", probs)
	}
	if got := exportOf(t, e.cat); got != want {
		t.Fatal("history after the repair differs")
	}
}

// signalHandler closes a channel the first time a log message contains s.
type signalHandler struct {
	slog.Handler
	s    string
	once *sync.Once
	ch   chan struct{}
}

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.s) {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }

// Store maintenance and runs exclude each other: maintenance waits for a
// running job, and a job waits while maintenance runs.
func TestMaintenanceAndRunsExcludeEachOther(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	ctx := context.Background()
	// A live run of another process (a holder on another host never looks dead).
	if err := e.cat.Lock(ctx, "job:finance", "elsewhere:1", time.Hour); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan []workspace.LockInfo, 1)
	done := make(chan error, 1)
	ran := make(chan struct{})
	go func() {
		eng := e.engine()
		done <- eng.Maintain(ctx, func(jobs []workspace.LockInfo) { waiting <- jobs }, func(context.Context) error {
			close(ran)
			return nil
		})
	}()
	jobs := <-waiting
	if len(jobs) != 1 || jobs[0].Name != "job:finance" {
		t.Fatalf("maintenance waits for %+v", jobs)
	}
	select {
	case <-ran:
		t.Fatal("maintenance ran while a job held its lock")
	default:
	}
	if err := e.cat.Unlock(ctx, "job:finance", "elsewhere:1"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-ran

	// Now maintenance by another process: a run waits for it.
	if err := e.cat.Lock(ctx, "store:maintenance", "elsewhere:2", time.Hour); err != nil {
		t.Fatal(err)
	}
	sig := signalHandler{Handler: slog.DiscardHandler, s: "waiting for store maintenance", once: new(sync.Once), ch: make(chan struct{})}
	eng := e.engine()
	eng.Log = slog.New(sig)
	runDone := make(chan error, 1)
	go func() {
		_, err := eng.RunJob(ctx, e.cfg.File, &e.cfg.Jobs[0])
		runDone <- err
	}()
	<-sig.ch
	if runs, _ := e.cat.Runs(ctx, "", 10); len(runs) != 0 {
		t.Fatalf("a run started during maintenance: %+v", runs)
	}
	if h, _ := e.cat.LockHolder(ctx, "job:finance"); h != "" {
		t.Fatalf("the waiting run keeps the job lock (%s): maintenance would wait for it forever", h)
	}
	if err := e.cat.Unlock(ctx, "store:maintenance", "elsewhere:2"); err != nil {
		t.Fatal(err)
	}
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if n := sightingsOf(t, e.cat, budget); n != 1 {
		t.Fatalf("the run after maintenance stored %s %d times", budget, n)
	}
}

// noisy reports one problem that names no item before scanning.
type noisy struct {
	connectors.Source
	err error
}

func (n noisy) Scan(ctx context.Context, c connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if err := sink.Problem(ctx, connectors.Problem{Name: "site (item 42)", Err: n.err}); err != nil {
		return nil, err
	}
	return n.Source.Scan(ctx, c, sink)
}

// A problem that names no item holds the cursor back (nothing could be
// retried by ref); one about an item's metadata only, where the item was
// listed all the same, does not.
func TestProblemsWithoutARef(t *testing.T) {
	for _, tc := range []struct {
		err        error
		reason     string
		wantCursor bool
	}{
		{errors.New("listing a folder failed"), "unreadable", false},
		{fmt.Errorf("%w: createdDateTime \"\"", connectors.ErrMetadata), "bad-metadata", true},
	} {
		e := newEnv(t)
		seed(e.src)
		eng := e.engine()
		open := eng.Open
		eng.Open = func(c connectors.Config) (connectors.Source, error) {
			s, err := open(c)
			return noisy{s, tc.err}, err
		}
		res, err := eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
		if err != nil || res.Counts.Problems != 1 || res.Counts.RetriesPending != 0 {
			t.Fatalf("%s: %v %v", tc.reason, err, res.Counts)
		}
		items, _ := e.cat.RunItems(context.Background(), res.RunID)
		if len(items) == 0 || items[0].Reason != tc.reason {
			t.Fatalf("%s: run items %+v", tc.reason, items)
		}
		cur, _ := e.cat.Cursor(context.Background(), "drive")
		if (cur != nil) != tc.wantCursor {
			t.Fatalf("%s: cursor %q, want committed=%v", tc.reason, cur, tc.wantCursor)
		}
	}
}

// folderFails reports a folder it could not list on its first scan only,
// and cannot list items again by ref.
type folderFails struct {
	connectors.Source
	failed *bool
}

func (f folderFails) Retry() {} // not connectors.Retrier: wrong signature on purpose

func (f folderFails) Scan(ctx context.Context, c connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if !*f.failed {
		*f.failed = true
		if err := sink.Problem(ctx, connectors.Problem{Ref: "Finance/", Name: "Finance/", Err: connectors.Retryable{Err: errors.New("list folder: connection lost")}}); err != nil {
			return nil, err
		}
	}
	return f.Source.Scan(ctx, c, sink)
}

// A failed folder listing of a source that cannot retry by ref comes off
// the retry list once a whole scan from the start ends without it.
func TestFailedListingLeavesTheListAfterARescan(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	eng := e.engine()
	open := eng.Open
	failed := false
	eng.Open = func(c connectors.Config) (connectors.Source, error) {
		s, err := open(c)
		return folderFails{noRetry{s}, &failed}, err
	}
	res, err := eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
	if err != nil || res.Counts.RetriesPending != 1 {
		t.Fatalf("first run: %v %v", err, res.Counts)
	}
	if cur, _ := e.cat.Cursor(context.Background(), "drive"); cur != nil {
		t.Fatalf("cursor %q committed past a failed listing", cur)
	}
	res, err = eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
	if err != nil || res.Status != workspace.StatusOK || res.Counts.RetriesPending != 0 {
		t.Fatalf("second run: %v %s %v", err, res.Status, res.Counts)
	}
}
