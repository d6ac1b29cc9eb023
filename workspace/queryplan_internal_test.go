package workspace

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
)

// queueScans are the hot statements allowed to scan: each reads the front
// of a work queue (and stops at its LIMIT), or empties it.
var queueScans = []string{"history_todo_sightings", "history_todo_contents", "history_todo_pins"}

// fullScans lists the table scans in the query plan of q (EXPLAIN QUERY
// PLAN, every parameter NULL): a "SCAN" of a table or of a whole index,
// as opposed to a "SEARCH" through an index.
func fullScans(t *testing.T, c *Catalog, q string) []string {
	t.Helper()
	var out []string
	for _, detail := range queryPlan(t, c, q) {
		if strings.HasPrefix(detail, "SCAN ") && !strings.HasSuffix(detail, "VALUES CLAUSE") && !slices.ContainsFunc(queueScans, func(tab string) bool { return strings.Contains(detail, tab) }) {
			out = append(out, detail)
		}
	}
	return out
}

// catalogWithRun opens a new catalog (closed at the end of the test) and
// starts a sync run of job "job" in it.
func catalogWithRun(t *testing.T) (*Catalog, int64) {
	t.Helper()
	ctx := context.Background()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	run, err := c.StartRun(ctx, "job", "sync")
	if err != nil {
		t.Fatal(err)
	}
	return c, run
}

// queryPlan is the lines of q's EXPLAIN QUERY PLAN, every parameter NULL.
func queryPlan(t *testing.T, c *Catalog, q string) []string {
	t.Helper()
	args := make([]any, strings.Count(q, "?"))
	rows, err := c.db.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatalf("explain %q: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return out
}

// TestHotStatementsUseIndexes drives every per-item path of the catalog
// (commit, lookups, the history index and its rebuild) with a recorder on
// the statements prepared to run many times, then checks each one's
// query plan: none may scan a table. A statement that scans is named with
// its plan.
func TestHotStatementsUseIndexes(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	onPrepare = func(q string) {
		mu.Lock()
		seen[q] = true
		mu.Unlock()
	}
	defer func() { onPrepare = nil }()

	ctx := context.Background()
	c, run := catalogWithRun(t)
	var blobs []dedupe.ID
	for i, text := range []string{"first text", "second text", "third"} {
		sums, _ := dedupe.HashReader(strings.NewReader(text))
		blobs = append(blobs, sums.ID)
		ref := "item-" + string(rune('a'+i))
		b := &Batch{RunID: run,
			Blobs:     []Blob{{Sums: sums, Hashes: map[string]string{"imap-part": "k" + ref}, Sketched: true}},
			Contents:  []Content{{Blob: sums.ID, Kind: "txt", Tokens: 2, Sketch: []uint64{1, 2, 3}}},
			Sightings: []Sighting{{Source: "s", Kind: "share", Ref: ref, Blob: sums.ID, Name: ref, Workspace: "w", Lineage: connectors.Lineage{Kind: "share"}, RunID: run}},
			Items:     []RunItem{{Source: "s", Ref: ref, Action: "new", Blob: sums.ID}},
			Cursors:   map[string]connectors.Cursor{"s": connectors.Cursor("c")},
			Retries:   []Retry{{Source: "s", Ref: "retry-" + ref, Reason: "timeout"}},
			Resolved:  []RetryKey{{Source: "s", Ref: "retry-item-z"}},
			Marks:     []Mark{{Source: "s", Ref: "item-a", Under: true, Gone: i == 2}},
		}
		if _, err := c.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.KnownSighting(ctx, "s", "item-a", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.BlobByHash(ctx, "imap-part", "kitem-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ContentsOf(ctx, blobs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPin(ctx, "merge", map[string]any{"blob": blobs[0].String(), "blobs": []string{blobs[1].String()}}, "t"); err != nil {
		t.Fatal(err)
	}

	// The history index, as the engine drives it.
	ix, err := c.NewIndexer(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	tx, err := ix.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := c.TodoSightings(ctx, 0, 10)
	if err != nil || len(ss) != 3 {
		t.Fatalf("queued sightings: %d, %v", len(ss), err)
	}
	var nodes []NodeRef
	for i, s := range ss {
		first := func(string, Content) []KeyRef { return nil }
		keys := []KeyRef{{Key: 7, Kind: KeyPlace, What: "name-family", Label: "shared"}, {Key: uint64(100 + i), Kind: KeyText}}
		ids, err := tx.AddNodeKeys(ctx, []NodeKeys{{Workspace: s.Workspace, Blob: s.Blob, Keys: keys}}, first)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, NodeRef{ID: ids[0], Workspace: s.Workspace, Blob: s.Blob})
		if _, err := tx.AddNodeKeys(ctx, []NodeKeys{{Workspace: s.Workspace, Blob: s.Blob, Keys: []KeyRef{{Key: uint64(200 + i), Kind: KeyPlace}, {Key: 9, Kind: KeyPin}}}}, first); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.NodesOfBlobs(ctx, []dedupe.ID{s.Blob}); err != nil {
			t.Fatal(err)
		}
		if err := tx.DoneSightings(ctx, []int64{s.ID}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := tx.TodoContents(ctx, 10)
	if err != nil || len(cs) != 3 {
		t.Fatalf("queued contents: %d, %v", len(cs), err)
	}
	if err := tx.DoneContents(ctx, []dedupe.ID{cs[0].Blob, cs[1].Blob, cs[2].Blob}); err != nil {
		t.Fatal(err)
	}
	if ps, err := tx.TodoPins(ctx); err != nil || len(ps) != 1 {
		t.Fatalf("queued pins: %d, %v", len(ps), err)
	}
	if err := tx.DonePins(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	capped, hubs, err := c.Caps(ctx, 1)
	if err != nil || len(capped) != 1 || capped[0].Label != "shared" || len(hubs) != 3 {
		t.Fatalf("caps at 1: keys %+v, hubs %+v, %v", capped, hubs, err)
	}
	r := c.HistoryReader()
	defer r.Close()
	if dirty, err := r.DirtyNodes(ctx); err != nil || len(dirty) != 3 {
		t.Fatalf("dirty: %v %v", dirty, err)
	}
	for _, n := range nodes {
		if _, err := r.KeysOf(ctx, []int64{n.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.NodesOf(ctx, []uint64{7}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Node(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if err := r.SightingsOf(ctx, n, func(Sighting) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	doc := func(name string) Document {
		return Document{Key: "d-1", Workspace: "w", Name: name, Versions: []Version{{Key: "v-1", Blob: blobs[0], Seq: 1, Sightings: []int64{1}},
			{Key: "v-2", Blob: blobs[1], Seq: 2, Parents: []Link{{Parent: "v-1", Reason: "name-family", Confidence: 0.5}}, Sightings: []int64{2}}}}
	}
	for _, name := range []string{"a", "b"} { // new, then replaced
		if _, err := c.ReplaceComponents(ctx, nodes, []Document{doc(name)}); err != nil {
			t.Fatal(err)
		}
	}

	if len(seen) < 25 {
		t.Fatalf("only %d hot statements recorded: the recorder is not wired", len(seen))
	}
	qs := make([]string, 0, len(seen))
	for q := range seen {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	for _, q := range qs {
		if scans := fullScans(t, c, q); len(scans) > 0 {
			t.Errorf("hot statement scans a table (%s):\n  %s", strings.Join(scans, "; "), q)
		}
	}
	// The check itself can fail: a lookup on an unindexed column scans.
	if scans := fullScans(t, c, `SELECT id FROM sightings WHERE name = ?`); len(scans) == 0 {
		t.Error("a lookup by an unindexed column was not seen to scan")
	}
}

// TestServeReadsUseIndexes: the statements behind the web interface's
// pages search an index. Counting a whole workspace's documents per
// folder (its front page) reads the documents_place index whole, and a
// name search scans the names: both are named here so a new scan is not.
func TestServeReadsUseIndexes(t *testing.T) {
	c, _ := catalogWithRun(t)
	for _, q := range []string{qFolderCountsUnder, qDocsInFolder, qVersionsOfBlob, qBlobKnown, qBlobSize, qAuditOfWorkspace, qAuditOfDocument} {
		if scans := fullScans(t, c, q); len(scans) > 0 {
			t.Errorf("page statement scans (%s):\n  %s", strings.Join(scans, "; "), q)
		}
	}
}

// TestSearchReadsTheNameIndex: a search reads names from documents_name
// alone (a covering index), not each document's row: at 1M sightings the
// row lookups were 62% of a search's 220 ms. Its text half starts from the
// text index and looks documents up by key: it does not walk the names
// (which doubled a search's time when both were one query).
func TestSearchReadsTheNameIndex(t *testing.T) {
	c, _ := catalogWithRun(t)
	var stmts []string
	searchQuery = func(q string) { stmts = append(stmts, q) }
	defer func() { searchQuery = nil }()
	if _, err := c.Search(context.Background(), Search{Workspaces: []string{"w"}, Text: "budget 2026", Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("a search by name and text ran %d statements, want 2:\n%s", len(stmts), strings.Join(stmts, "\n"))
	}
	if plan := strings.Join(queryPlan(t, c, stmts[0]), "\n"); !strings.Contains(plan, "COVERING INDEX documents_name") {
		t.Errorf("search by name, plan:\n%s", plan)
	}
	plan := strings.Join(queryPlan(t, c, stmts[1]), "\n")
	if strings.Contains(plan, "documents_name") || !strings.Contains(plan, "SEARCH d USING INDEX sqlite_autoindex_documents_1 (key=?)") {
		t.Errorf("search by text, plan:\n%s", plan)
	}
}

// TestClaimReadsTheUnitsToDo: a worker looking for work reads the first
// units to do through their partial index, not every unit of the run (a
// job of 1,000 sources claims 1,000 times).
func TestClaimReadsTheUnitsToDo(t *testing.T) {
	c, _ := catalogWithRun(t)
	plan := strings.Join(queryPlan(t, c, unitsToDoQuery), "\n")
	if !strings.Contains(plan, "run_units_todo") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("units to do, plan:\n%s", plan)
	}
}

// TestMergeSummaries: two (name, key)-ordered lists merge in that order,
// a document in both once, at most limit.
func TestMergeSummaries(t *testing.T) {
	d := func(name, key string) DocSummary { return DocSummary{Name: name, Key: key} }
	a := []DocSummary{d("a", "1"), d("b", "2"), d("b", "4"), d("d", "5")}
	b := []DocSummary{d("a", "0"), d("b", "2"), d("b", "3"), d("c", "9")}
	keys := func(l []DocSummary) string {
		var out []string
		for _, x := range l {
			out = append(out, x.Name+x.Key)
		}
		return strings.Join(out, " ")
	}
	for limit, want := range map[int]string{
		10: "a0 a1 b2 b3 b4 c9 d5",
		4:  "a0 a1 b2 b3",
		1:  "a0",
		0:  "",
	} {
		if got := keys(mergeSummaries(a, b, limit)); got != want {
			t.Errorf("limit %d: %q, want %q", limit, got, want)
		}
	}
	if got := keys(mergeSummaries(nil, b, 10)); got != keys(b) {
		t.Errorf("nothing by name: %q", got)
	}
	if got := keys(mergeSummaries(a, nil, 10)); got != keys(a) {
		t.Errorf("nothing by text: %q", got)
	}
}
