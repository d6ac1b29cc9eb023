// Package catalogtest is the conformance suite of the catalog: Run
// exercises the public methods of a workspace.Catalog that open returns
// fresh (empty) for each subtest, so that every database the catalog runs
// on (SQLite, PostgreSQL) behaves the same.
package catalogtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
	"github.com/syncd/syncd/workspace/historytest"
)

// Run runs the suite; open returns a new, empty catalog closed by the test.
func Run(t *testing.T, open func(t *testing.T) *workspace.Catalog) {
	tests := []struct {
		name string
		fn   func(*testing.T, *workspace.Catalog)
	}{
		{"CommitAndLookups", testCommitAndLookups},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"RunsAndLocks", testRunsAndLocks},
		{"RetriesAndRepair", testRetriesAndRepair},
		{"Gone", testGone},
		{"Documents", testDocuments},
		{"DocumentsByVersions", testDocumentsByVersions},
		{"Pins", testPins},
		{"HistoryIndex", testHistoryIndex},
		{"HistoryQueue", testHistoryQueue},
		{"Units", testUnits},
		{"Search", testSearch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func sums(data string) dedupe.Sums {
	s, _ := dedupe.HashReader(strings.NewReader(data))
	return s
}

func batch(run int64, data, ref string) *workspace.Batch {
	s := sums(data)
	return &workspace.Batch{
		RunID: run,
		Blobs: []workspace.Blob{{Sums: s, Hashes: map[string]string{"imap-part": "key-" + ref}, Sketched: true}},
		Sightings: []workspace.Sighting{{Source: "s", Kind: "share", Ref: ref, Fingerprint: "f", Blob: s.ID, Name: path.Base(ref), Size: s.Size,
			Time: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC), Author: "alice", Workspace: "w", Folder: "f",
			Lineage: connectors.Lineage{Kind: "share"}, RunID: run}},
		Cursors: map[string]connectors.Cursor{"s": connectors.Cursor("after-" + ref)},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sightings(t *testing.T, c *workspace.Catalog) []workspace.Sighting {
	t.Helper()
	var out []workspace.Sighting
	must(t, c.EachSighting(context.Background(), func(s workspace.Sighting) error { out = append(out, s); return nil }))
	return out
}

func testCommitAndLookups(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	now := time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)
	c.SetClock(func() time.Time { return now })
	run, err := c.StartRun(ctx, "job", "sync")
	must(t, err)
	for i := range 3 { // a replayed batch adds nothing
		b := batch(run, "hello", "dir/a.txt")
		b.Items = []workspace.RunItem{{Source: "s", Ref: "dir/a.txt", Name: "a.txt", Size: 5, Action: "new", Blob: b.Blobs[0].Sums.ID}}
		n, err := c.Commit(ctx, b)
		must(t, err)
		if want := map[bool]int{true: 1, false: 0}[i == 0]; n != want {
			t.Fatalf("commit %d added %d sightings, want %d", i, n, want)
		}
	}
	b := batch(run, "second", "dir/b.txt")
	b.Items = []workspace.RunItem{{Source: "s", Ref: "dir/b.txt", Name: "b.txt", Size: 6, Action: "duplicate", Reason: "same content", Detail: "d"}}
	if n, err := c.Commit(ctx, b); err != nil || n != 1 {
		t.Fatalf("second commit: %d %v", n, err)
	}
	st, err := c.Stats(ctx)
	must(t, err)
	if st.Sightings != 2 || st.SightingBytes != 11 || st.Blobs != 2 || st.BlobBytes != 11 || st.Documents != 0 {
		t.Fatalf("stats %+v", st)
	}
	if known, gone, err := c.KnownSighting(ctx, "s", "dir/a.txt", "f"); !known || gone || err != nil {
		t.Errorf("KnownSighting: %v %v %v", known, gone, err)
	}
	if known, _, err := c.KnownSighting(ctx, "s", "dir/a.txt", "g"); known || err != nil {
		t.Errorf("KnownSighting of another fingerprint: %v %v", known, err)
	}
	if known, _, err := c.KnownSighting(ctx, "s", "dir/zzz", ""); known || err != nil {
		t.Errorf("KnownSighting of an unknown ref: %v %v", known, err)
	}
	cur, err := c.Cursor(ctx, "s")
	if string(cur) != "after-dir/b.txt" || err != nil {
		t.Errorf("cursor %q %v", cur, err)
	}
	must(t, c.ResetCursor(ctx, "s"))
	if cur, err := c.Cursor(ctx, "s"); len(cur) != 0 || err != nil {
		t.Errorf("cursor after reset %q %v", cur, err)
	}
	// A partitioned source's parts keep cursors of their own, keyed
	// source/part; another source's never show among them.
	b = &workspace.Batch{Cursors: map[string]connectors.Cursor{"s/INBOX": connectors.Cursor("i"), "s/Projects/2024": connectors.Cursor("p"),
		"s": connectors.Cursor("whole"), "s0": connectors.Cursor("x"), "s-2/INBOX": connectors.Cursor("y"), "t/INBOX": connectors.Cursor("z")}}
	if _, err := c.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if parts, err := c.PartCursors(ctx, "s"); !slices.Equal(parts, []string{"INBOX", "Projects/2024"}) || err != nil {
		t.Errorf("PartCursors(s) = %q %v, want INBOX and Projects/2024", parts, err)
	}
	must(t, c.ResetCursor(ctx, "s/INBOX"))
	if parts, err := c.PartCursors(ctx, "s"); !slices.Equal(parts, []string{"Projects/2024"}) || err != nil {
		t.Errorf("PartCursors(s) after a reset = %q %v", parts, err)
	}
	if cur, err := c.Cursor(ctx, "s"); string(cur) != "whole" || err != nil {
		t.Errorf("the whole source's cursor: %q %v", cur, err)
	}
	for _, k := range []string{"s", "s0", "s-2/INBOX", "t/INBOX", "s/Projects/2024"} {
		must(t, c.ResetCursor(ctx, k))
	}
	hello := sums("hello")
	for kind, val := range map[string]string{connectors.HashSHA256: hello.ID.String(), connectors.HashQuickXor: hello.QuickXor, "imap-part": "key-dir/a.txt"} {
		got, ok, err := c.BlobByHash(ctx, kind, val)
		if err != nil || !ok || got.ID != hello.ID || got.Size != 5 {
			t.Errorf("BlobByHash(%s) = %v %v %v", kind, got, ok, err)
		}
	}
	if _, ok, err := c.BlobByHash(ctx, "imap-part", "nothing"); ok || err != nil {
		t.Errorf("BlobByHash of an unknown value: %v %v", ok, err)
	}
	ss := sightings(t, c)
	if len(ss) != 2 || ss[0].Ref != "dir/a.txt" || ss[1].Ref != "dir/b.txt" || ss[0].ID >= ss[1].ID {
		t.Fatalf("sightings %+v", ss)
	}
	s := ss[0]
	if s.Blob != hello.ID || s.Name != "a.txt" || s.Size != 5 || !s.Time.Equal(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)) ||
		s.Author != "alice" || s.Workspace != "w" || s.Folder != "f" || s.Lineage.Kind != "share" || s.RunID != run || !s.Seen.Equal(now) || !s.Gone.IsZero() {
		t.Errorf("sighting read back %+v", s)
	}
	var after []int64
	must(t, c.EachSightingAfter(ctx, ss[0].ID, func(s workspace.Sighting) error { after = append(after, s.ID); return nil }))
	if !slices.Equal(after, []int64{ss[1].ID}) {
		t.Errorf("EachSightingAfter %v", after)
	}
	items, err := c.RunItems(ctx, run)
	must(t, err)
	if len(items) != 4 || items[0].Action != "new" || items[0].Blob != hello.ID || items[3].Ref != "dir/b.txt" || items[3].Reason != "same content" {
		t.Errorf("run items %+v", items)
	}
	var ris []workspace.ReportItem
	must(t, c.ReportItems(ctx, []workspace.ReportRun{{ID: run, Job: "job"}}, func(it workspace.ReportItem) error { ris = append(ris, it); return nil }))
	if len(ris) != 4 || ris[0].Ref != "dir/a.txt" || !ris[0].Sighted || !ris[0].NewContent || !ris[0].First || ris[0].Job != "job" ||
		ris[3].Ref != "dir/b.txt" || !ris[3].Sighted || ris[3].Kind != "share" || ris[3].Placed {
		t.Errorf("report items %+v", ris)
	}
	reasons, err := c.ReportReasons(ctx, []workspace.ReportRun{{ID: run, Job: "job"}}, "duplicate")
	must(t, err)
	if len(reasons) != 1 {
		t.Errorf("report reasons %+v", reasons)
	}
	var ofBlob []string
	must(t, c.SightingsOfBlob(ctx, hello.ID, func(s workspace.Sighting) error { ofBlob = append(ofBlob, s.Ref); return nil }))
	if !slices.Equal(ofBlob, []string{"dir/a.txt"}) {
		t.Errorf("SightingsOfBlob %v", ofBlob)
	}
	var blobs []workspace.BlobRecord
	must(t, c.EachBlob(ctx, func(b workspace.BlobRecord) error { blobs = append(blobs, b); return nil }))
	if len(blobs) != 2 || blobs[0].Sums.ID.String() >= blobs[1].Sums.ID.String() || blobs[0].Refs != 1 || blobs[0].Damaged {
		t.Errorf("blobs %+v", blobs)
	}
	probs, err := c.Check(ctx)
	must(t, err)
	if len(probs) != 2 || !strings.Contains(probs[0], "belongs to no version") {
		t.Errorf("check before history: %q (want the two unassigned sightings)", probs)
	}
}

func testAuditAppendOnly(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	must(t, c.Audit(ctx, "tester", "x.y", "subject", "first"))
	must(t, c.Audit(ctx, "tester", "x.z", "subject", "second"))
	if _, err := c.DB().ExecContext(ctx, `UPDATE audit SET detail = 'changed'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("update of the audit log: err=%v, want refused", err)
	}
	if _, err := c.DB().ExecContext(ctx, `DELETE FROM audit`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("delete from the audit log: err=%v, want refused", err)
	}
	log, err := c.AuditLog(ctx, 10)
	must(t, err)
	if len(log) != 2 || log[0].Detail != "second" || log[1].Detail != "first" || log[0].Actor != "tester" {
		t.Errorf("audit log %+v", log)
	}
	if log, _ := c.AuditLog(ctx, 1); len(log) != 1 {
		t.Errorf("limit 1: %d entries", len(log))
	}
	// Entries about a workspace's documents, read back by place.
	for i, e := range []workspace.AuditEntry{
		{Actor: "ann", Action: "serve.view", Subject: "d-1", Workspace: "w1", Document: "d-1"},
		{Actor: "bob", Action: "serve.download", Subject: "d-1 v-2", Workspace: "w1", Document: "d-1"},
		{Actor: "ann", Action: "serve.search", Subject: "w1", Workspace: "w1"},
		{Actor: "cat", Action: "serve.view", Subject: "d-9", Workspace: "w2", Document: "d-9"},
	} {
		e.Detail = fmt.Sprint("n", i)
		must(t, c.AuditAt(ctx, e))
	}
	of := func(ws, doc string, before int64, limit int) (out []string, ids []int64) {
		must(t, c.AuditOf(ctx, ws, doc, before, limit, func(e workspace.AuditEntry) error {
			out = append(out, e.Actor+" "+e.Action+" "+e.Subject+" "+e.Workspace+" "+e.Document+" "+e.Detail)
			ids = append(ids, e.ID)
			return nil
		}))
		return out, ids
	}
	got, ids := of("", "d-1", 0, 0)
	if want := []string{"bob serve.download d-1 v-2 w1 d-1 n1", "ann serve.view d-1 w1 d-1 n0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("entries of d-1: %q, want %q", got, want)
	}
	if got, _ := of("w1", "", 0, 0); len(got) != 3 || !strings.HasPrefix(got[0], "ann serve.search") {
		t.Errorf("entries of w1: %q", got)
	}
	if got, _ := of("w1", "", 0, 1); len(got) != 1 {
		t.Errorf("entries of w1, limit 1: %q", got)
	}
	if got, _ := of("", "d-1", ids[0], 0); len(got) != 1 || !strings.Contains(got[0], "n0") {
		t.Errorf("entries of d-1 before the newest: %q", got)
	}
	if log, _ := c.AuditLog(ctx, 10); len(log) != 6 || log[0].Workspace != "w2" || log[0].Document != "d-9" || log[5].Workspace != "" {
		t.Errorf("AuditLog after AuditAt: %d entries", len(log))
	}
}

func testRunsAndLocks(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	must(t, c.Lock(ctx, "job:a", "p1", time.Minute))
	must(t, c.Lock(ctx, "job:a", "p1", time.Minute)) // the holder again
	if err := c.Lock(ctx, "job:a", "p2", time.Minute); !errors.Is(err, workspace.ErrLocked) || !strings.Contains(err.Error(), "p1") {
		t.Fatalf("second holder: %v", err)
	}
	must(t, c.Lock(ctx, "job:b", "p1", time.Minute))
	must(t, c.Lock(ctx, "other", "p1", time.Minute))
	locks, err := c.Locks(ctx, "job:")
	must(t, err)
	if len(locks) != 2 || locks[0].Name != "job:a" || locks[1].Name != "job:b" || !locks[0].Expires.Equal(now.Add(time.Minute)) {
		t.Errorf("locks %+v", locks)
	}
	now = now.Add(2 * time.Minute) // expired
	must(t, c.Lock(ctx, "job:a", "p2", time.Minute))
	if h, err := c.LockHolder(ctx, "job:a"); h != "p2" || err != nil {
		t.Errorf("holder %q %v", h, err)
	}
	if err := c.StealLock(ctx, "job:a", "p1", "p3", time.Minute); !errors.Is(err, workspace.ErrLocked) {
		t.Fatalf("steal from a holder that no longer holds it: %v", err)
	}
	must(t, c.StealLock(ctx, "job:a", "p2", "p3", time.Minute))
	must(t, c.Unlock(ctx, "job:a", "p3"))
	if h, err := c.LockHolder(ctx, "job:a"); h != "" || err != nil {
		t.Errorf("holder after unlock %q %v", h, err)
	}
	id1, err := c.StartRun(ctx, "a", "sync")
	must(t, err)
	id2, err := c.StartRun(ctx, "a", "sync") // the first was left running: interrupted
	must(t, err)
	id3, err := c.StartRun(ctx, "b", "plan")
	must(t, err)
	if !(id1 < id2 && id2 < id3) {
		t.Errorf("run ids %d %d %d", id1, id2, id3)
	}
	r1, err := c.GetRun(ctx, id1)
	must(t, err)
	if r1.Status != workspace.StatusInterrupted {
		t.Errorf("run left running has status %q", r1.Status)
	}
	must(t, c.FinishRun(ctx, id2, workspace.StatusProblems, workspace.Counts{New: 3, Duplicate: 2}, "one failed"))
	runs, err := c.Runs(ctx, "a", 10)
	must(t, err)
	if len(runs) != 2 || runs[0].ID != id2 || runs[0].Counts.New != 3 || runs[0].Counts.Duplicate != 2 || runs[0].Error != "one failed" || runs[0].Status != workspace.StatusProblems {
		t.Errorf("runs %+v", runs)
	}
	if all, _ := c.Runs(ctx, "", 10); len(all) != 3 || all[0].ID != id3 || all[0].Mode != "plan" {
		t.Errorf("all runs %+v", all)
	}
	if _, err := c.GetRun(ctx, 999); err == nil {
		t.Error("GetRun of an unknown id succeeded")
	}
}

func testRetriesAndRepair(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	run, err := c.StartRun(ctx, "job", "sync")
	must(t, err)
	b := &workspace.Batch{RunID: run, Retries: []workspace.Retry{
		{Source: "s", Ref: "b", Name: "b.txt", Reason: "network", Detail: "reset"},
		{Source: "s", Ref: "a", Name: "a.txt", Reason: "throttled"},
		{Source: "t", Ref: "x", Name: "x", Reason: "network"},
	}}
	_, err = c.Commit(ctx, b)
	must(t, err)
	run2, _ := c.StartRun(ctx, "job", "sync")
	_, err = c.Commit(ctx, &workspace.Batch{RunID: run2, Retries: []workspace.Retry{{Source: "s", Ref: "b", Name: "b.txt", Reason: "network", Detail: "again"}}})
	must(t, err)
	rs, err := c.Retries(ctx, "s")
	must(t, err)
	if len(rs) != 2 || rs[0].Ref != "a" || rs[1].Ref != "b" || rs[1].Attempts != 2 || rs[1].FirstRun != run || rs[1].LastRun != run2 || rs[1].Detail != "again" {
		t.Fatalf("retries %+v", rs)
	}
	pending, err := c.PendingRetries(ctx)
	must(t, err)
	if !reflect.DeepEqual(pending, map[string]int64{"s": 2, "t": 1}) {
		t.Errorf("pending %v", pending)
	}
	// A stored sighting takes its item off the list; Resolved another.
	ab := batch(run2, "a content", "a")
	ab.Resolved = []workspace.RetryKey{{Source: "t", Ref: "x"}}
	_, err = c.Commit(ctx, ab)
	must(t, err)
	if rs, _ := c.Retries(ctx, "s"); len(rs) != 1 || rs[0].Ref != "b" {
		t.Errorf("retries after the store %+v", rs)
	}
	if rs, _ := c.Retries(ctx, "t"); len(rs) != 0 {
		t.Errorf("resolved retry still listed %+v", rs)
	}
	// A blob stored without its sketch is listed until it is saved.
	un := sums("unsketched text")
	_, err = c.Commit(ctx, &workspace.Batch{RunID: run2, Blobs: []workspace.Blob{{Sums: un}},
		Sightings: []workspace.Sighting{{Source: "s", Kind: "share", Ref: "u", Blob: un.ID, Name: "u", Size: un.Size, Workspace: "w", RunID: run2}}})
	must(t, err)
	todo, err := c.Unsketched(ctx, 10)
	must(t, err)
	if len(todo) != 1 || todo[0].ID != un.ID {
		t.Fatalf("unsketched %+v", todo)
	}
	saved := time.Date(2024, 3, 5, 10, 11, 12, 345000000, time.UTC)
	must(t, c.SaveSketch(ctx, un.ID, &workspace.Content{Blob: un.ID, Kind: "text", Tokens: 2, Sketch: []uint64{1, 1 << 63, 42}, Modified: saved, Revision: 7}))
	if todo, _ := c.Unsketched(ctx, 10); len(todo) != 0 {
		t.Errorf("unsketched after save %+v", todo)
	}
	cts, err := c.ContentsOf(ctx, []dedupe.ID{un.ID})
	must(t, err)
	if ct := cts[un.ID]; ct.Kind != "text" || ct.Tokens != 2 || !slices.Equal(ct.Sketch, []uint64{1, 1 << 63, 42}) || !ct.Modified.Equal(saved) || ct.Revision != 7 {
		t.Errorf("content %+v", ct)
	}
	if all, _ := c.Contents(ctx); len(all) != 1 || !all[un.ID].Modified.Equal(saved) || all[un.ID].Revision != 7 {
		t.Errorf("contents %v", all)
	}
	// Damaged content is listed and its sighting is no longer known.
	aID := ab.Blobs[0].Sums.ID
	n, err := c.MarkDamaged(ctx, aID, "bad bytes")
	must(t, err)
	if n != 1 {
		t.Errorf("MarkDamaged queued %d retries, want 1", n)
	}
	if d, _ := c.Damaged(ctx); !slices.Equal(d, []dedupe.ID{aID}) {
		t.Errorf("damaged %v", d)
	}
	if known, _, _ := c.KnownSighting(ctx, "s", "a", "f"); known {
		t.Error("a sighting of damaged content is known")
	}
	// A fresh copy heals it.
	heal := batch(run2, "a content", "a2")
	heal.Blobs[0].Fresh = true
	_, err = c.Commit(ctx, heal)
	must(t, err)
	if d, _ := c.Damaged(ctx); len(d) != 0 {
		t.Errorf("damaged after a fresh copy %v", d)
	}
	// gc removes an unreferenced blob row only.
	lone := sums("lonely")
	_, err = c.Commit(ctx, &workspace.Batch{RunID: run2, Blobs: []workspace.Blob{{Sums: lone, Sketched: true}}})
	must(t, err)
	must(t, c.RemoveBlobRow(ctx, lone.ID))
	must(t, c.RemoveBlobRow(ctx, aID))
	if _, ok, _ := c.BlobByHash(ctx, connectors.HashSHA256, lone.ID.String()); ok {
		t.Error("unreferenced blob row not removed")
	}
	if _, ok, _ := c.BlobByHash(ctx, connectors.HashSHA256, aID.String()); !ok {
		t.Error("referenced blob row removed")
	}
}

func testGone(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	c.SetClock(func() time.Time { return now })
	run, _ := c.StartRun(ctx, "job", "sync")
	for i, ref := range []string{"acct/INBOX/7/12", "acct/INBOX/7/12/2", "acct/INBOX/7/12/3.1", "acct/INBOX/7/120/2", "acct/INBOX/7/12-x", "share/a.txt"} {
		_, err := c.Commit(ctx, batch(run, "content "+string(rune('a'+i)), ref))
		must(t, err)
	}
	goneRefs := func() []string {
		var out []string
		for _, s := range sightings(t, c) {
			if !s.Gone.IsZero() {
				out = append(out, s.Ref)
			}
		}
		sort.Strings(out)
		return out
	}
	mark := func(m ...workspace.Mark) {
		t.Helper()
		_, err := c.Commit(ctx, &workspace.Batch{RunID: run, Marks: m})
		must(t, err)
	}
	mark(workspace.Mark{Source: "s", Ref: "acct/INBOX/7/12", Under: true, Gone: true})
	if got, want := goneRefs(), []string{"acct/INBOX/7/12", "acct/INBOX/7/12/2", "acct/INBOX/7/12/3.1"}; !slices.Equal(got, want) {
		t.Fatalf("under acct/INBOX/7/12: gone %v, want %v", got, want)
	}
	now = t0.Add(time.Hour)
	mark(workspace.Mark{Source: "s", Ref: "share/a.txt", Gone: true}, workspace.Mark{Source: "s", Ref: "acct/INBOX/7/12/2", Gone: true})
	for _, s := range sightings(t, c) {
		if s.Ref == "acct/INBOX/7/12/2" && !s.Gone.Equal(t0) {
			t.Errorf("marked gone again: time %v, want the first %v", s.Gone, t0)
		}
	}
	mark(workspace.Mark{Source: "s", Ref: "acct/INBOX/7/12/2"}, workspace.Mark{Source: "other", Ref: "share/a.txt"})
	if got, want := goneRefs(), []string{"acct/INBOX/7/12", "acct/INBOX/7/12/3.1", "share/a.txt"}; !slices.Equal(got, want) {
		t.Fatalf("after one came back: gone %v, want %v", got, want)
	}
	if known, gone, err := c.KnownSighting(ctx, "s", "share/a.txt", "f"); !known || !gone || err != nil {
		t.Errorf("KnownSighting of a gone copy: known %v gone %v %v", known, gone, err)
	}
}

// documents fills c through historytest and returns what Documents loads.
func documents(t *testing.T, c *workspace.Catalog, n int) []workspace.Document {
	historytest.Fill(t, c, n, nil)
	docs, err := c.Documents(context.Background())
	must(t, err)
	if len(docs) != n {
		t.Fatalf("%d documents stored, want %d", len(docs), n)
	}
	return docs
}

func testDocuments(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	want := documents(t, c, 40)
	for i := 1; i < len(want); i++ {
		if want[i-1].Key >= want[i].Key {
			t.Fatalf("documents not in key order: %s, %s", want[i-1].Key, want[i].Key)
		}
	}
	var got []workspace.Document
	must(t, c.EachDocument(ctx, func(d workspace.Document) error { got = append(got, d); return nil }))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("EachDocument differs from Documents")
	}
	byID := map[int64]workspace.Sighting{}
	for _, s := range sightings(t, c) {
		byID[s.ID] = s
	}
	n := 0
	must(t, c.EachDocumentSightings(ctx, workspace.DocFilter{}, func(d workspace.Document, ss []workspace.Sighting) error {
		var ids []int64
		for _, v := range d.Versions {
			ids = append(ids, v.Sightings...)
		}
		slices.Sort(ids)
		if len(ss) != len(ids) {
			t.Fatalf("document %s: %d sightings for %d ids", d.Key, len(ss), len(ids))
		}
		for i, s := range ss {
			if s.ID != ids[i] || !reflect.DeepEqual(s, byID[s.ID]) {
				t.Fatalf("document %s: sighting %d differs", d.Key, s.ID)
			}
		}
		n++
		return nil
	}))
	if n != len(want) {
		t.Errorf("EachDocumentSightings: %d documents", n)
	}
	wss, err := c.DocumentWorkspaces(ctx)
	must(t, err)
	if len(wss) < 2 || !slices.IsSorted(wss) {
		t.Fatalf("workspaces %q", wss)
	}
	for _, ws := range wss {
		var folders []string
		firsts := map[string]string{}
		must(t, c.EachDocumentFolder(ctx, ws, func(folder, first string) error {
			folders = append(folders, folder)
			firsts[folder] = first
			return nil
		}))
		wantFirst := map[string]string{}
		var wantFolders []string
		for _, d := range want {
			if d.Workspace != ws {
				continue
			}
			if _, ok := wantFirst[d.Folder]; !ok {
				wantFirst[d.Folder] = d.Key
				wantFolders = append(wantFolders, d.Folder)
			}
		}
		sort.Strings(wantFolders)
		if !slices.Equal(folders, wantFolders) || !reflect.DeepEqual(firsts, wantFirst) {
			t.Errorf("workspace %s: folders %q (firsts %v), want %q (%v)", ws, folders, firsts, wantFolders, wantFirst)
		}
		f := workspace.DocFilter{Workspace: ws, Folders: wantFolders[:1]}
		var in []workspace.Document
		must(t, c.EachDocumentIn(ctx, f, func(d workspace.Document) error { in = append(in, d); return nil }))
		var wantIn []workspace.Document
		for _, d := range want {
			if d.Workspace == ws && d.Folder == wantFolders[0] {
				wantIn = append(wantIn, d)
			}
		}
		if !reflect.DeepEqual(in, wantIn) {
			t.Errorf("EachDocumentIn %+v: %d documents, want %d", f, len(in), len(wantIn))
		}
	}
	d := want[7]
	got1, ss, ok, err := c.DocumentByKey(ctx, d.Key)
	if !ok || err != nil || !reflect.DeepEqual(got1, d) || len(ss) == 0 {
		t.Errorf("DocumentByKey: %v %v, equal %v", ok, err, reflect.DeepEqual(got1, d))
	}
	if _, _, ok, err := c.DocumentByKey(ctx, "no such key"); ok || err != nil {
		t.Errorf("DocumentByKey of an unknown key: %v %v", ok, err)
	}
	st, err := c.Stats(ctx)
	must(t, err)
	if st.Documents != int64(len(want)) || st.Workspaces != int64(len(wss)) {
		t.Errorf("stats %+v", st)
	}
	if probs, err := c.Check(ctx); err != nil || len(probs) != 0 {
		t.Errorf("check: %q %v", probs, err)
	}
	// The same history again changes nothing; one document less removes it.
	diff, err := c.ReplaceHistoryDiff(ctx, want)
	must(t, err)
	if diff.Written != 0 || diff.Unchanged != len(want) || diff.Removed != 0 {
		t.Errorf("replace with the same history: %+v", diff)
	}
	diff, err = c.ReplaceHistoryDiff(ctx, want[1:])
	must(t, err)
	if diff.Written != 0 || diff.Removed != 1 {
		t.Errorf("replace without the first document: %+v", diff)
	}
	if _, _, ok, _ := c.DocumentByKey(ctx, want[0].Key); ok {
		t.Error("removed document still stored")
	}
}

// joinPath is report.joinPath (path.Join, or name alone at the top).
func joinPath(folder, name string) string {
	if folder == "" {
		return name
	}
	return path.Join(folder, name)
}

func testDocumentsByVersions(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	// More documents than the reader takes a chunk at a time (200).
	docs := documents(t, c, 450)
	// Folders that path.Join cleans: the order must follow the cleaned path.
	run, _ := c.StartRun(ctx, "extra", "sync")
	var extra []workspace.Document
	for i, place := range [][2]string{{"a/../z", "n"}, {"./b//", "n"}, {"", "../x"}, {"/abs/", "y"}, {"q/..", ""}, {"m", "k/../../l"}} {
		b := batch(run, fmt.Sprintf("extra %d", i), fmt.Sprintf("extra/%d", i))
		_, err := c.Commit(ctx, b)
		must(t, err)
		extra = append(extra, workspace.Document{Key: fmt.Sprintf("x-%d", i), Workspace: "ws0", Folder: place[0], Name: place[1],
			Versions: []workspace.Version{{Key: fmt.Sprintf("xv-%d", i), Blob: b.Blobs[0].Sums.ID, Seq: 1, Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}}})
	}
	ids := map[string]int64{}
	for _, s := range sightings(t, c) {
		ids[s.Source+"\x00"+s.Ref] = s.ID
	}
	for i := range extra {
		extra[i].Versions[0].Sightings = []int64{ids[fmt.Sprintf("s\x00extra/%d", i)]}
	}
	all := append(slices.Clone(docs), extra...)
	must(t, c.ReplaceHistory(ctx, all))
	type key struct {
		vers, copies int
		ws, path     string
		key          string
	}
	keyOf := func(d workspace.Document) key {
		k := key{vers: len(d.Versions), ws: d.Workspace, path: joinPath(d.Folder, d.Name), key: d.Key}
		for _, v := range d.Versions {
			k.copies += len(v.Sightings)
		}
		return k
	}
	var want []string
	ks := make([]key, len(all))
	for i, d := range all {
		ks[i] = keyOf(d)
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.vers != b.vers {
			return a.vers > b.vers
		}
		if a.copies != b.copies {
			return a.copies > b.copies
		}
		if a.ws != b.ws {
			return a.ws < b.ws
		}
		if a.path != b.path {
			return a.path < b.path
		}
		return a.key < b.key
	})
	for _, k := range ks {
		want = append(want, k.key)
	}
	type docSightings struct {
		d  workspace.Document
		ss []workspace.Sighting
	}
	byKey := map[string]docSightings{}
	must(t, c.EachDocumentSightings(ctx, workspace.DocFilter{}, func(d workspace.Document, ss []workspace.Sighting) error {
		byKey[d.Key] = docSightings{d, ss}
		return nil
	}))
	var got []string
	must(t, c.EachDocumentByVersions(ctx, func(d workspace.Document, ss []workspace.Sighting) error {
		got = append(got, d.Key)
		if len(ss) != keyOf(d).copies {
			t.Errorf("document %s: %d sightings, want %d", d.Key, len(ss), keyOf(d).copies)
		}
		// The same document, read the other way.
		if w := byKey[d.Key]; !reflect.DeepEqual(w, docSightings{d, ss}) {
			t.Errorf("document %s by versions\n%+v\nin key order\n%+v", d.Key, docSightings{d, ss}, w)
		}
		return nil
	}))
	if !slices.Equal(got, want) {
		t.Fatalf("EachDocumentByVersions order\n got %q\nwant %q", got, want)
	}
}

func testPins(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	id1, err := c.AddPin(ctx, "merge", map[string]any{"a": "d-1", "b": "d-2"}, "alice")
	must(t, err)
	id2, err := c.AddPin(ctx, "split", []string{"v-1"}, "bob")
	must(t, err)
	if id1 >= id2 {
		t.Errorf("pin ids %d %d", id1, id2)
	}
	pins, err := c.Pins(ctx)
	must(t, err)
	if len(pins) != 2 || pins[0].ID != id1 || pins[0].Kind != "merge" || pins[1].Actor != "bob" || !strings.Contains(string(pins[0].Args), "d-2") {
		t.Errorf("pins %+v", pins)
	}
	if log, _ := c.AuditLog(ctx, 10); len(log) != 2 || log[0].Action != "history.split" {
		t.Errorf("audit of pins %+v", log)
	}
}

// testHistoryQueue: the indexer takes exactly the sightings it indexed
// off the queue. On PostgreSQL a sighting with a smaller id can be queued
// after a larger one was read; taking off "up to the last id read" would
// drop it unindexed.
func testHistoryQueue(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	run, _ := c.StartRun(ctx, "job", "sync")
	for i := range 4 {
		_, err := c.Commit(ctx, batch(run, fmt.Sprintf("queued %d", i), fmt.Sprintf("q/%d", i)))
		must(t, err)
	}
	todo, err := c.TodoSightings(ctx, 0, 10)
	must(t, err)
	if len(todo) != 4 {
		t.Fatalf("queued %d sightings, want 4", len(todo))
	}
	ix, err := c.NewIndexer(ctx, 10)
	must(t, err)
	defer ix.Close()
	done := func(ids ...int64) {
		x, err := ix.Begin(ctx)
		must(t, err)
		must(t, x.DoneSightings(ctx, ids))
		must(t, x.Commit())
	}
	done(todo[3].ID, todo[1].ID)
	left, err := c.TodoSightings(ctx, 0, 10)
	must(t, err)
	if len(left) != 2 || left[0].ID != todo[0].ID || left[1].ID != todo[2].ID {
		t.Fatalf("after taking off the second and fourth: %+v", left)
	}
	if after, err := c.TodoSightings(ctx, todo[0].ID, 1); err != nil || len(after) != 1 || after[0].ID != todo[2].ID {
		t.Errorf("one after the first: %+v %v", after, err)
	}
	done(todo[0].ID, todo[2].ID)
	if left, err := c.TodoSightings(ctx, 0, 10); err != nil || len(left) != 0 {
		t.Errorf("queue not empty: %+v %v", left, err)
	}
}

func testHistoryIndex(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	run, _ := c.StartRun(ctx, "job", "sync")
	var blobs []dedupe.ID
	for i := range 4 {
		b := batch(run, fmt.Sprintf("indexed %d", i), fmt.Sprintf("ix/%d", i))
		b.Contents = []workspace.Content{{Blob: b.Blobs[0].Sums.ID, Kind: "text", Tokens: 3, Sketch: []uint64{uint64(i), 1<<64 - 1}}}
		_, err := c.Commit(ctx, b)
		must(t, err)
		blobs = append(blobs, b.Blobs[0].Sums.ID)
	}
	_, err := c.AddPin(ctx, "merge", []string{"x"}, "alice")
	must(t, err)
	st, err := c.HistoryIndex(ctx)
	must(t, err)
	if !st.Pending || st.Nodes != 0 || st.Cap != 0 {
		t.Fatalf("index state before indexing %+v", st)
	}
	const keyCap = 2
	ix, err := c.NewIndexer(ctx, keyCap)
	must(t, err)
	defer ix.Close()
	x, err := ix.Begin(ctx)
	must(t, err)
	todo, err := c.TodoSightings(ctx, 0, 10)
	must(t, err)
	if len(todo) != 4 || todo[0].Workspace != "w" || todo[0].Blob != blobs[0] {
		t.Fatalf("todo sightings %+v", todo)
	}
	cts, err := x.TodoContents(ctx, 10)
	must(t, err)
	if len(cts) != 4 {
		t.Fatalf("todo contents %+v", cts)
	}
	// Four nodes share a key past the cap (2), three of them added in one
	// call (the key's count goes from 1 to 4): it is capped and its nodes
	// dirty. A key with the high bit set round-trips. A new node's first
	// keys come from its blob's sketch.
	const shared, big = uint64(7), uint64(1<<63 + 5)
	var sketched []workspace.Content
	first := func(ws string, ct workspace.Content) []workspace.KeyRef {
		sketched = append(sketched, ct)
		return []workspace.KeyRef{{Key: 1000 + ct.Sketch[0], Kind: workspace.KeyText}}
	}
	var adds []workspace.NodeKeys
	for i, b := range blobs {
		keys := []workspace.KeyRef{{Key: uint64(100 + i), Kind: workspace.KeyText}}
		keys = append(keys, workspace.KeyRef{Key: shared, Kind: workspace.KeyPlace, What: "name family", Label: "report"})
		if i == 3 {
			keys = append(keys, workspace.KeyRef{Key: big, Kind: workspace.KeyPin})
		}
		adds = append(adds, workspace.NodeKeys{Workspace: "w", Blob: b, Keys: keys})
	}
	nodes, err := x.AddNodeKeys(ctx, adds[:1], first)
	must(t, err)
	more, err := x.AddNodeKeys(ctx, adds[1:], first)
	must(t, err)
	nodes = append(nodes, more...)
	if len(nodes) != 4 || len(sketched) != 4 || sketched[2].Blob != blobs[2] || sketched[2].Tokens != 3 || !slices.Equal(sketched[2].Sketch, []uint64{2, 1<<64 - 1}) {
		t.Fatalf("nodes %v from sketches %+v", nodes, sketched)
	}
	if again, err := x.AddNodeKeys(ctx, []workspace.NodeKeys{{Workspace: "w", Blob: blobs[0]}}, first); err != nil || len(again) != 1 || again[0] != nodes[0] || len(sketched) != 4 {
		t.Errorf("the first node again: %v %v", again, err)
	}
	_, err = x.AddNodeKeys(ctx, []workspace.NodeKeys{{Workspace: "w", Blob: blobs[3], Keys: []workspace.KeyRef{{Key: 100 + 3, Kind: workspace.KeyText}, {Key: 100, Kind: workspace.KeyText}}}}, nil)
	must(t, err)
	if refs, err := x.NodesOfBlobs(ctx, blobs[1:2]); err != nil || len(refs) != 1 || refs[0].ID != nodes[1] || refs[0].Workspace != "w" || refs[0].Blob != blobs[1] {
		t.Errorf("NodesOfBlobs %+v %v", refs, err)
	}
	if after, err := c.TodoSightings(ctx, todo[1].ID, 10); err != nil || len(after) != 2 || after[0].ID != todo[2].ID {
		t.Errorf("todo sightings after the second: %+v %v", after, err)
	}
	var ids []int64
	for _, s := range todo {
		ids = append(ids, s.ID)
	}
	must(t, x.DoneSightings(ctx, ids))
	var sketchedBlobs []dedupe.ID
	for _, ct := range cts {
		sketchedBlobs = append(sketchedBlobs, ct.Blob)
	}
	must(t, x.DoneContents(ctx, sketchedBlobs))
	must(t, x.DonePins(ctx))
	must(t, x.TodoOrphans(ctx))
	must(t, x.Commit())
	if left, err := c.TodoSightings(ctx, 0, 10); err != nil || len(left) != 0 {
		t.Errorf("sightings still queued once done: %+v %v", left, err)
	}

	capped, err := c.CappedKeys(ctx, keyCap)
	must(t, err)
	if !reflect.DeepEqual(capped, map[uint64]int{shared: 3}) {
		t.Errorf("capped keys %v", capped)
	}
	ck, hubs, err := c.Caps(ctx, keyCap)
	must(t, err)
	if len(ck) != 1 || ck[0].Key != shared || ck[0].What != "name family" || ck[0].Label != "report" || len(hubs) != 0 {
		t.Errorf("caps %+v hubs %+v", ck, hubs)
	}
	if h, err := c.Hubs(ctx, keyCap); err != nil || len(h) != 0 {
		t.Errorf("hubs %v %v", h, err)
	}
	var groups [][]workspace.KeyRef
	must(t, c.EachKeyGroup(ctx, func(rows []workspace.KeyRef) { groups = append(groups, slices.Clone(rows)) }))
	var groupKeys []uint64
	for _, g := range groups {
		groupKeys = append(groupKeys, g[0].Key)
	}
	if len(groups) != 10 || !slices.Contains(groupKeys, big) || !slices.Contains(groupKeys, 1003) || !slices.Contains(groupKeys, shared) {
		t.Errorf("key groups %v", groupKeys)
	}
	st, err = c.HistoryIndex(ctx)
	must(t, err)
	if st.Pending || st.Nodes != int(nodes[3]) || st.Dirty != 4 {
		t.Errorf("index state after indexing %+v (nodes %v)", st, nodes)
	}

	r := c.HistoryReader()
	defer r.Close()
	dirty, err := r.DirtyNodes(ctx)
	must(t, err)
	if !slices.Equal(dirty, nodes) {
		t.Errorf("dirty %v, want %v", dirty, nodes)
	}
	keys, err := r.KeysOf(ctx, nodes[3:])
	must(t, err)
	var ks []uint64
	for _, k := range keys {
		ks = append(ks, k.Key)
	}
	slices.Sort(ks)
	if !slices.Equal(ks, []uint64{shared, 100, 103, 1003, big}) {
		t.Errorf("keys of node %d: %v", nodes[3], ks)
	}
	// Many nodes and keys a call: the union of the calls one by one.
	var one, oneOf []workspace.KeyRef
	for _, n := range nodes {
		ks, err := r.KeysOf(ctx, []int64{n})
		must(t, err)
		one = append(one, ks...)
		for _, k := range ks {
			of, err := r.NodesOf(ctx, []uint64{k.Key})
			must(t, err)
			oneOf = append(oneOf, of...)
		}
	}
	all, err := r.KeysOf(ctx, nodes)
	must(t, err)
	var allKeys []uint64
	for _, k := range all {
		allKeys = append(allKeys, k.Key)
	}
	allOf, err := r.NodesOf(ctx, allKeys)
	must(t, err)
	byRef := func(a, b workspace.KeyRef) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Node, b.Node), cmp.Compare(a.Kind, b.Kind))
	}
	for _, l := range [][]workspace.KeyRef{one, oneOf, all, allOf} {
		slices.SortFunc(l, byRef)
	}
	oneOf, allOf = slices.Compact(oneOf), slices.Compact(allOf)
	if len(one) == 0 || !slices.Equal(one, all) || !slices.Equal(oneOf, allOf) {
		t.Errorf("keys of all nodes %v, one by one %v; their nodes %v, one by one %v", all, one, allOf, oneOf)
	}
	of, err := r.NodesOf(ctx, []uint64{big})
	must(t, err)
	if len(of) != 1 || of[0].Node != nodes[3] || of[0].Kind != workspace.KeyPin {
		t.Errorf("nodes of the big key %+v", of)
	}
	if n, err := r.Node(ctx, nodes[2]); err != nil || n.Blob != blobs[2] {
		t.Errorf("Node %+v %v", n, err)
	}
	refs, err := r.Nodes(ctx, nodes)
	must(t, err)
	if len(refs) != 4 {
		t.Fatalf("Nodes %+v", refs)
	}
	var refsOf []string
	must(t, r.SightingsOfNodes(ctx, refs, func(s workspace.Sighting) error { refsOf = append(refsOf, s.Ref); return nil }))
	sort.Strings(refsOf)
	if !slices.Equal(refsOf, []string{"ix/0", "ix/1", "ix/2", "ix/3"}) {
		t.Errorf("sightings of nodes %v", refsOf)
	}
	// Rebuild the dirty components: one document of nodes 0-2 (node 3's
	// blob in none).
	ss := sightings(t, c)
	doc := workspace.Document{Key: "d-ix", Workspace: "w", Folder: "f", Name: "0"}
	for i := range 3 {
		doc.Versions = append(doc.Versions, workspace.Version{Key: fmt.Sprintf("v-ix-%d", i), Blob: blobs[i], Seq: i + 1, Sightings: []int64{ss[i].ID}})
	}
	diff, err := c.ReplaceComponents(ctx, refs, []workspace.Document{doc})
	must(t, err)
	if diff.Written != 1 {
		t.Errorf("ReplaceComponents %+v", diff)
	}
	if dirty, _ := r.DirtyNodes(ctx); len(dirty) != 0 {
		t.Errorf("dirty after the rebuild %v", dirty)
	}
	must(t, c.FinishFull(ctx, keyCap))
	st, err = c.HistoryIndex(ctx)
	must(t, err)
	if st.Full || st.Cap != keyCap || st.Dirty != 0 {
		t.Errorf("index state after FinishFull %+v", st)
	}
	if got, _, ok, _ := c.DocumentByKey(ctx, "d-ix"); !ok || len(got.Versions) != 3 {
		t.Errorf("rebuilt document %+v", got)
	}
	// A lower cap recounts.
	ix2, err := c.NewIndexer(ctx, 1)
	must(t, err)
	defer ix2.Close()
	x2, err := ix2.Begin(ctx)
	must(t, err)
	must(t, x2.SetFull(ctx, 1))
	must(t, x2.Commit())
	if capped, _ := c.CappedKeys(ctx, 1); len(capped) != 2 || capped[shared] != 4 || capped[100] != 2 {
		t.Errorf("capped keys at cap 1: %v", capped)
	}
}

// RunCopy checks CopyFrom from a catalog openSrc returns to one openDst
// returns: everything a catalog answers is the same after the copy, and
// the copy goes on taking new rows (its ids continue past the copied
// ones).
func RunCopy(t *testing.T, openSrc, openDst func(t *testing.T) *workspace.Catalog) {
	ctx := context.Background()
	src, dst := openSrc(t), openDst(t)
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	src.SetClock(func() time.Time { return now })
	documents(t, src, 30)
	run, err := src.StartRun(ctx, "job", "sync")
	must(t, err)
	for i := range 3 {
		b := batch(run, fmt.Sprintf("copied %d", i), fmt.Sprintf("copy/%d.txt", i))
		b.Items = []workspace.RunItem{{Source: "s", Ref: fmt.Sprintf("copy/%d.txt", i), Name: fmt.Sprintf("%d.txt", i), Size: b.Blobs[0].Sums.Size, Action: "new", Blob: b.Blobs[0].Sums.ID},
			{Source: "s", Ref: fmt.Sprintf("copy/skip%d", i), Name: "skip", Action: "skip", Reason: "too large"}}
		_, err := src.Commit(ctx, b)
		must(t, err)
	}
	must(t, src.FinishRun(ctx, run, "ok", workspace.Counts{}, ""))
	_, err = src.AddPin(ctx, "merge", []string{"a", "b"}, "alice")
	must(t, err)
	// A history node with no keys yet: its keyset is the empty blob,
	// which must not arrive as NULL (found copying a 1M store into
	// PostgreSQL).
	ix, err := src.NewIndexer(ctx, 100)
	must(t, err)
	x, err := ix.Begin(ctx)
	must(t, err)
	docs, err := src.Documents(ctx)
	must(t, err)
	if ids, err := x.AddNodeKeys(ctx, []workspace.NodeKeys{{Workspace: "keyless", Blob: docs[0].Versions[0].Blob}}, nil); err != nil || len(ids) != 1 || ids[0] == 0 {
		t.Fatalf("no new history node: %v %v", ids, err)
	}
	must(t, x.Commit())
	ix.Close()

	type answers struct {
		Sightings []workspace.Sighting
		Documents []workspace.Document
		Items     []workspace.RunItem
		Runs      []workspace.Run
		Pins      []workspace.Pin
		Audit     []workspace.AuditEntry
		Stats     workspace.Stats
		Index     workspace.HistoryIndexState
		Blobs     []workspace.BlobRecord
	}
	read := func(c *workspace.Catalog) answers {
		var a answers
		var err error
		a.Sightings = sightings(t, c)
		a.Documents, err = c.Documents(ctx)
		must(t, err)
		a.Items, err = c.RunItems(ctx, run)
		must(t, err)
		a.Runs, err = c.Runs(ctx, "", 0)
		must(t, err)
		a.Pins, err = c.Pins(ctx)
		must(t, err)
		a.Audit, err = c.AuditLog(ctx, 1000)
		must(t, err)
		a.Stats, err = c.Stats(ctx)
		must(t, err)
		a.Index, err = c.HistoryIndex(ctx)
		must(t, err)
		must(t, c.EachBlob(ctx, func(b workspace.BlobRecord) error { a.Blobs = append(a.Blobs, b); return nil }))
		return a
	}
	want := read(src)
	if len(want.Documents) != 30 || len(want.Items) != 6 || len(want.Pins) != 1 || len(want.Runs) == 0 {
		t.Fatalf("the source catalog: %d documents, %d items, %d pins, %d runs", len(want.Documents), len(want.Items), len(want.Pins), len(want.Runs))
	}
	must(t, dst.CopyFrom(ctx, src, "tester"))
	if ok, err := dst.CopiedFrom(ctx, src.Path()); !ok || err != nil {
		t.Errorf("CopiedFrom(the source) = %v %v", ok, err)
	}
	if ok, err := dst.CopiedFrom(ctx, "elsewhere"); ok || err != nil {
		t.Errorf("CopiedFrom(another) = %v %v", ok, err)
	}
	got := read(dst)
	// The copy's own audit entry comes first (newest); the rest is the
	// source's.
	if len(got.Audit) == 0 || got.Audit[0].Action != "store.copy" || got.Audit[0].Actor != "tester" {
		t.Errorf("no store.copy audit entry first: %+v", got.Audit)
	} else {
		got.Audit = got.Audit[1:]
	}
	if !reflect.DeepEqual(got, want) {
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s differ after the copy:\n got %+v\nwant %+v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
	// A second copy into a catalog with data is refused.
	if err := dst.CopyFrom(ctx, src, "tester"); !errors.Is(err, workspace.ErrNotEmpty) {
		t.Errorf("copy into a catalog with data: %v, want ErrNotEmpty", err)
	}
	// New rows get ids past the copied ones.
	run2, err := dst.StartRun(ctx, "job", "sync")
	must(t, err)
	if run2 <= run {
		t.Errorf("a new run after the copy has id %d, the copied run %d", run2, run)
	}
	b := batch(run2, "after the copy", "copy/after.txt")
	if n, err := dst.Commit(ctx, b); n != 1 || err != nil {
		t.Fatalf("commit after the copy: %d %v", n, err)
	}
	ss := sightings(t, dst)
	if last := ss[len(ss)-1]; last.Ref != "copy/after.txt" || last.ID <= want.Sightings[len(want.Sightings)-1].ID {
		t.Errorf("the new sighting %+v, the last copied id %d", last, want.Sightings[len(want.Sightings)-1].ID)
	}
	pin, err := dst.AddPin(ctx, "split", []string{"c"}, "bob")
	must(t, err)
	if pin <= want.Pins[0].ID {
		t.Errorf("a new pin after the copy has id %d, the copied pin %d", pin, want.Pins[0].ID)
	}
}

func testUnits(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	run, err := c.StartRunBy(ctx, "job", "sync", "host-a:1")
	must(t, err)
	if _, ok, err := c.OpenRun(ctx, "job", "host-a:1"); ok || err != nil {
		t.Fatalf("a run without units is open: %v %v", ok, err)
	}
	must(t, c.AddUnits(ctx, run, []string{"mail", "share", "sp"}))
	must(t, c.AddUnits(ctx, run, []string{"mail"})) // again: kept as it is
	if id, ok, err := c.OpenRun(ctx, "job", "host-a:1"); !ok || err != nil || id != run {
		t.Fatalf("OpenRun = %d %v %v, want %d", id, ok, err, run)
	}
	if _, ok, _ := c.OpenRun(ctx, "job", "host-b:2"); ok {
		t.Error("OpenRun found a run another holder started")
	}
	us, err := c.Units(ctx, run)
	must(t, err)
	if len(us) != 3 || us[0].Name != "mail" || us[0].State != workspace.UnitTodo || us[0].Job != "job" {
		t.Fatalf("units %+v", us)
	}
	// Two claim the same unit: one gets it.
	ok1, err := c.ClaimUnit(ctx, us[0], "host-a:1", time.Minute)
	must(t, err)
	ok2, err := c.ClaimUnit(ctx, us[0], "host-b:2", time.Minute)
	must(t, err)
	if !ok1 || ok2 {
		t.Fatalf("claims of one unit: %v %v, want exactly the first", ok1, ok2)
	}
	if err := c.RenewUnit(ctx, run, "mail", "host-b:2", time.Minute); !errors.Is(err, workspace.ErrLostUnit) {
		t.Errorf("renew by a non-holder: %v", err)
	}
	now = now.Add(30 * time.Second)
	must(t, c.RenewUnit(ctx, run, "mail", "host-a:1", time.Minute))
	us, _ = c.Units(ctx, run)
	if us[0].State != workspace.UnitRunning || us[0].Holder != "host-a:1" || !us[0].Expires.Equal(now.Add(time.Minute)) {
		t.Fatalf("renewed unit %+v", us[0])
	}
	// The lease runs out: host-b takes it over; host-a has lost it.
	now = now.Add(2 * time.Minute)
	if ok, err := c.ClaimUnit(ctx, us[0], "host-b:2", time.Minute); !ok || err != nil {
		t.Fatalf("takeover of an expired unit: %v %v", ok, err)
	}
	if err := c.FinishUnit(ctx, run, "mail", "host-a:1", "imap", workspace.Counts{}, ""); !errors.Is(err, workspace.ErrLostUnit) {
		t.Errorf("finish by the old holder: %v", err)
	}
	must(t, c.FinishUnit(ctx, run, "mail", "host-b:2", "imap", workspace.Counts{Scanned: 7, New: 2}, ""))
	if log, _ := c.AuditLog(ctx, 10); len(log) == 0 || log[0].Action != "unit.takeover" || log[0].Detail != "from host-a:1" {
		t.Errorf("no takeover in the audit log: %+v", log)
	}
	// A unit handed back is to do again, for anyone.
	us, _ = c.Units(ctx, run)
	if ok, err := c.ClaimUnit(ctx, us[1], "host-a:1", time.Minute); !ok || err != nil {
		t.Fatalf("claim of share: %v %v", ok, err)
	}
	must(t, c.ReleaseUnit(ctx, run, "share", "host-b:2")) // not its holder: no change
	if us, _ = c.Units(ctx, run); us[1].State != workspace.UnitRunning {
		t.Fatalf("released by a non-holder: %+v", us[1])
	}
	must(t, c.ReleaseUnit(ctx, run, "share", "host-a:1"))
	if us, _ = c.Units(ctx, run); us[1].State != workspace.UnitTodo || us[1].Holder != "" {
		t.Fatalf("released unit %+v", us[1])
	}
	// What a worker reads before a claim: the units not done, claimable
	// as Units lists them.
	claim, err := c.UnitsToClaim(ctx, run, 0)
	must(t, err)
	if len(claim) != 2 || claim[0].Name != "share" || claim[0].State != workspace.UnitTodo || claim[1].Name != "sp" || claim[0].Job != "job" {
		t.Fatalf("units to claim %+v, want share and sp (mail is done)", claim)
	}
	if first, err := c.UnitsToClaim(ctx, run, 1); err != nil || len(first) != 1 || first[0].Name != "share" {
		t.Fatalf("the first unit to do: %+v %v, want share", first, err)
	}
	if ok, err := c.ClaimUnit(ctx, claim[1], "host-a:1", time.Minute); !ok || err != nil {
		t.Fatalf("claim of sp as UnitsToClaim listed it: %v %v", ok, err)
	}
	must(t, c.ReleaseUnit(ctx, run, "sp", "host-a:1"))
	open, err := c.OpenUnits(ctx)
	must(t, err)
	if len(open) != 3 || open[0].Name != "mail" || open[0].State != workspace.UnitDone || open[0].Counts.New != 2 || open[0].Kind != "imap" || open[0].Holder != "host-b:2" {
		t.Fatalf("open units %+v", open)
	}
	must(t, c.FinishRun(ctx, run, workspace.StatusOK, workspace.Counts{}, ""))
	if open, _ := c.OpenUnits(ctx); len(open) != 0 {
		t.Errorf("units of a finished run are open: %+v", open)
	}
}

// testSearch: documents found by name or by the words of their text,
// narrowed by the kind and author of their sightings and their versions'
// dates; the text index's query syntax in a search is only words.
func testSearch(t *testing.T, c *workspace.Catalog) {
	ctx := context.Background()
	run, err := c.StartRun(ctx, "job", "sync")
	must(t, err)
	type doc struct{ key, ws, name, text, kind, author string }
	docs := []doc{
		{"d-a", "w", "Budget.xlsx", "The Quick brown fox, jumps over the lazy dog", "mail", "Alice <alice@example.org>"},
		{"d-b", "w", "Minutes.docx", "Minutes of the board: the fox was discussed", "share", "bob"},
		{"d-c", "w", "Quick notes.txt", "nothing relevant here", "share", "carol"},
		{"d-d", "other", "Fox report.pdf", "the lazy dog again", "sharepoint", "dan"},
	}
	var stored []workspace.Document
	for i, d := range docs {
		b := batch(run, d.text, d.key)
		s := &b.Sightings[0]
		s.Kind, s.Author, s.Workspace, s.Name = d.kind, d.author, d.ws, d.name
		s.Lineage = connectors.Lineage{Kind: d.kind}
		b.Contents = []workspace.Content{{Blob: s.Blob, Kind: "txt", Tokens: 5, Sketch: []uint64{1, 2}, Text: d.text}}
		b.Cursors = nil
		_, err := c.Commit(ctx, b)
		must(t, err)
		ids := sightingIDs(t, c, d.key)
		stored = append(stored, workspace.Document{Key: d.key, Workspace: d.ws, Folder: "f", Name: d.name, Versions: []workspace.Version{
			{Key: "v-" + d.key, Blob: s.Blob, Seq: 1, Time: time.Date(2025, 3, 1+i, 10, 0, 0, 0, time.UTC), Sightings: ids}}})
	}
	must(t, c.ReplaceHistory(ctx, stored))
	find := func(q workspace.Search) string {
		t.Helper()
		if q.Workspaces == nil {
			q.Workspaces = []string{"w", "other"}
		}
		q.Limit = 10
		hits, err := c.Search(ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		var keys []string
		for _, h := range hits {
			keys = append(keys, h.Key)
		}
		return strings.Join(keys, ",")
	}
	for _, c := range []struct {
		q    workspace.Search
		want string
	}{
		{workspace.Search{Text: "fox"}, "d-a,d-d,d-b"},  // by text, and name (Fox report), in name order
		{workspace.Search{Text: "LAZY dog"}, "d-a,d-d"}, // every word, any case
		{workspace.Search{Text: "quick"}, "d-a,d-c"},    // text, and name
		{workspace.Search{Text: "minutes"}, "d-b"},      // name and text: once
		{workspace.Search{Text: "fox", Workspaces: []string{"w"}}, "d-a,d-b"},
		{workspace.Search{Text: "fox", Kind: "mail"}, "d-a"},
		{workspace.Search{Text: "fox", Sender: "ALICE@"}, "d-a"},
		{workspace.Search{Sender: "O"}, "d-a,d-b,d-c"}, // alice@example.org, bob, carol
		{workspace.Search{From: "2025-03-02", To: "2025-03-03"}, "d-b,d-c"},
		{workspace.Search{From: "2025-03-04"}, "d-d"},
		{workspace.Search{Text: `fox" OR "nothing`}, ""}, // quotes are no syntax: three words, none has all
		{workspace.Search{Text: `"fox" "dog"`}, "d-a"},
		{workspace.Search{Text: "NEAR(fox dog) *"}, ""},
		{workspace.Search{Text: "%"}, ""},
	} {
		if got := find(c.q); got != c.want {
			t.Errorf("search %+v: %q, want %q", c.q, got, c.want)
		}
	}
}

// sightingIDs are the ids of the sightings with ref.
func sightingIDs(t *testing.T, c *workspace.Catalog, ref string) []int64 {
	var out []int64
	must(t, c.EachSighting(context.Background(), func(s workspace.Sighting) error {
		if s.Ref == ref {
			out = append(out, s.ID)
		}
		return nil
	}))
	return out
}
