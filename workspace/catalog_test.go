package workspace_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

func open(t *testing.T) (*workspace.Catalog, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "catalog.db")
	c, err := workspace.Open(context.Background(), p, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, p
}

func batch(run int64, data, ref string) *workspace.Batch {
	sums, _ := dedupe.HashReader(strings.NewReader(data))
	return &workspace.Batch{
		RunID: run,
		Blobs: []workspace.Blob{{Sums: sums, Hashes: map[string]string{"imap-part": "key-" + ref}, Sketched: true}},
		Sightings: []workspace.Sighting{{Source: "s", Kind: "share", Ref: ref, Blob: sums.ID, Name: ref, Size: sums.Size,
			Workspace: "w", Lineage: connectors.Lineage{Kind: "share"}, RunID: run}},
		Cursors: map[string]connectors.Cursor{"s": connectors.Cursor("after-" + ref)},
	}
}

func TestCommitIsIdempotentAndIndexesHashes(t *testing.T) {
	c, _ := open(t)
	ctx := context.Background()
	run, err := c.StartRun(ctx, "job", "sync")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // a replayed batch (crash before the cursor moved) adds nothing
		n, err := c.Commit(ctx, batch(run, "hello", "a.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[i == 0]; n != want {
			t.Fatalf("commit %d added %d sightings, want %d", i, n, want)
		}
	}
	st, _ := c.Stats(ctx)
	if st.Sightings != 1 || st.Blobs != 1 {
		t.Fatalf("stats %+v", st)
	}
	if known, _, _ := c.KnownSighting(ctx, "s", "a.txt", ""); !known {
		t.Error("sighting not known after commit")
	}
	cur, _ := c.Cursor(ctx, "s")
	if string(cur) != "after-a.txt" {
		t.Errorf("cursor %q", cur)
	}
	want := dedupe.Sum([]byte("hello"))
	for _, kind := range []string{connectors.HashSHA256, connectors.HashQuickXor, "imap-part"} {
		val := map[string]string{connectors.HashSHA256: want.String(), "imap-part": "key-a.txt"}[kind]
		if kind == connectors.HashQuickXor {
			s, _ := dedupe.HashReader(strings.NewReader("hello"))
			val = s.QuickXor
		}
		got, ok, err := c.BlobByHash(ctx, kind, val)
		if err != nil || !ok || got.ID != want {
			t.Errorf("BlobByHash(%s) = %v %v %v", kind, got.ID, ok, err)
		}
	}
	if probs, err := c.Check(ctx); err != nil || len(probs) != 1 || !strings.Contains(probs[0], "belongs to no version") {
		t.Errorf("check before history: %v %v (want only the unassigned sighting)", probs, err)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	c, _ := open(t)
	ctx := context.Background()
	if err := c.Audit(ctx, "tester", "x.y", "subject", "detail"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DB().ExecContext(ctx, `UPDATE audit SET detail = 'changed'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("update of the audit log: err=%v, want refused", err)
	}
	if _, err := c.DB().ExecContext(ctx, `DELETE FROM audit`); err == nil {
		t.Error("delete from the audit log was allowed")
	}
	log, _ := c.AuditLog(ctx, 10)
	if len(log) != 1 || log[0].Detail != "detail" {
		t.Errorf("audit log %+v", log)
	}
}

func TestLocksAndRuns(t *testing.T) {
	c, _ := open(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	if err := c.Lock(ctx, "job:a", "p1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(ctx, "job:a", "p2", time.Minute); !errors.Is(err, workspace.ErrLocked) {
		t.Fatalf("second holder: %v", err)
	}
	now = now.Add(2 * time.Minute) // expired
	if err := c.Lock(ctx, "job:a", "p2", time.Minute); err != nil {
		t.Fatalf("expired lock not taken: %v", err)
	}
	if err := c.StealLock(ctx, "job:a", "p1", "p3", time.Minute); !errors.Is(err, workspace.ErrLocked) {
		t.Fatalf("steal from a holder that no longer holds it: %v", err)
	}
	id1, _ := c.StartRun(ctx, "a", "sync")
	id2, _ := c.StartRun(ctx, "a", "sync") // the first one was left running: interrupted
	r1, _ := c.GetRun(ctx, id1)
	if r1.Status != workspace.StatusInterrupted {
		t.Errorf("run left running has status %q", r1.Status)
	}
	if err := c.FinishRun(ctx, id2, workspace.StatusOK, workspace.Counts{New: 3}, ""); err != nil {
		t.Fatal(err)
	}
	runs, _ := c.Runs(ctx, "a", 10)
	if len(runs) != 2 || runs[0].ID != id2 || runs[0].Counts.New != 3 {
		t.Errorf("runs %+v", runs)
	}
}

func TestReopenKeepsSchemaAndSnapshotIsReadable(t *testing.T) {
	c, p := open(t)
	ctx := context.Background()
	if _, err := c.Commit(ctx, batch(1, "x", "x.txt")); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if err := c.Snapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	c.Close()
	again, err := workspace.Open(ctx, p, workspace.Options{})
	if err != nil {
		t.Fatalf("reopen (migrations must not run twice): %v", err)
	}
	defer again.Close()
	s, err := workspace.Open(ctx, snap, workspace.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, _ := s.Stats(ctx)
	if st.Sightings != 1 {
		t.Errorf("snapshot has %d sightings", st.Sightings)
	}
}

// The per-item lookups reuse prepared statements: a lookup made under a
// context that is later cancelled (one source's run) must not break the
// lookups of every later caller.
func TestLookupsSurviveACancelledCaller(t *testing.T) {
	c, _ := open(t)
	b := batch(1, "content", "a")
	if _, err := c.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if ok, _, err := c.KnownSighting(ctx, "s", "a", ""); !ok || err != nil {
		t.Fatalf("known sighting: %v %v", ok, err)
	}
	if _, ok, err := c.BlobByHash(ctx, connectors.HashSHA256, b.Blobs[0].Sums.ID.String()); !ok || err != nil {
		t.Fatalf("blob by hash: %v %v", ok, err)
	}
	cancel()
	if _, _, err := c.KnownSighting(ctx, "s", "a", ""); err == nil {
		t.Fatal("a lookup under a cancelled context succeeded")
	}
	for range 3 {
		if ok, _, err := c.KnownSighting(context.Background(), "s", "a", ""); !ok || err != nil {
			t.Fatalf("known sighting after another caller's cancel: %v %v", ok, err)
		}
		if _, ok, err := c.BlobByHash(context.Background(), connectors.HashSHA256, b.Blobs[0].Sums.ID.String()); !ok || err != nil {
			t.Fatalf("blob by hash after another caller's cancel: %v %v", ok, err)
		}
	}
}
