package workspace

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
)

// TestReportQueriesUseIndexes runs each of the report's queries on a
// small run and checks its plan: the run's items are found through the
// run index and every sighting, document and version through theirs;
// only the query's own runs list, CTEs and subqueries may be scanned
// (SQLite sorts and groups them in temporary storage).
func TestReportQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	c, run := catalogWithRun(t)
	sums, _ := dedupe.HashReader(strings.NewReader("one content"))
	b := &Batch{RunID: run, Blobs: []Blob{{Sums: sums}}}
	for _, ref := range []string{"a", "b"} {
		b.Sightings = append(b.Sightings, Sighting{Source: "s", Kind: "share", Ref: ref, Blob: sums.ID, Name: ref, Workspace: "w", Lineage: connectors.Lineage{Kind: "share"}, RunID: run})
		b.Items = append(b.Items, RunItem{Source: "s", Ref: ref, Name: ref, Action: "new", Blob: sums.ID})
	}
	b.Items = append(b.Items, RunItem{Source: "s", Ref: "~$a", Name: "~$a", Action: "skip", Reason: "lockfile"})
	if _, err := c.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}

	var queries []string
	onPrepare = func(q string) { queries = append(queries, q) }
	defer func() { onPrepare = nil }()
	runs := []ReportRun{{ID: run, Job: "job"}}
	var items, dups, named int
	if err := c.ReportItems(ctx, runs, func(ReportItem) error { items++; return nil }); err != nil {
		t.Fatal(err)
	}
	reasons, err := c.ReportReasons(ctx, runs, "skip", "problem")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReportItemsFor(ctx, runs, "skip", "lockfile", 10, func(RunItem) error { named++; return nil }); err != nil {
		t.Fatal(err)
	}
	per, total, err := c.ReportContents(ctx, runs)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReportDuplicates(ctx, runs, func(DupContent) error { dups++; return nil }); err != nil {
		t.Fatal(err)
	}
	onPrepare = nil
	if items != 3 || len(reasons) != 1 || reasons[0].Count != 1 || named != 1 || len(per) != 1 || per[0].Contents != 1 || total != 1 || dups != 1 {
		t.Fatalf("items %d, reasons %+v, lock files %d, contents %+v and %d, duplicated contents %d", items, reasons, named, per, total, dups)
	}
	if len(queries) != 6 {
		t.Fatalf("%d queries heard, want 6", len(queries))
	}
	own := []string{"r", "it", "w", "touched", "t", "g", "CONSTANT ROW"}
	for _, q := range queries {
		plan := queryPlan(t, c, q)
		for _, d := range plan {
			what, ok := strings.CutPrefix(d, "SCAN ")
			if ok && !slices.Contains(own, what) && !strings.HasPrefix(what, "(subquery") {
				t.Errorf("%s\nscans %q:\n%s", q, what, strings.Join(plan, "\n"))
			}
		}
	}
}
