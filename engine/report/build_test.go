package report_test

import (
	"context"
	"slices"
	"testing"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/report"
)

// all is every element of a report list, read from the catalog.
func all[T any](l report.List[T]) []T {
	var out []T
	if err := l.All(func(x T) error { out = append(out, x); return nil }); err != nil {
		panic(err)
	}
	return out
}

func group(gs []report.ReasonGroup, reason string) []string {
	for _, g := range gs {
		if g.Reason == reason {
			var out []string
			for _, it := range all(g.Items) {
				out = append(out, it.Name)
			}
			return out
		}
	}
	return nil
}

// TestFixtureFacts checks what the fixture plan must say, fact by fact.
func TestFixtureFacts(t *testing.T) {
	r := fixtureReport(t, 4)
	tt := r.Totals
	if tt.Seen != tt.Known+tt.New+tt.Duplicate+tt.Skipped+tt.Problems {
		t.Errorf("totals do not add up: %+v", tt)
	}
	if r.Kind != "plan" || tt.Seen != 14 || tt.New != 7 || tt.Duplicate != 3 {
		t.Errorf("kind %s totals %+v, want a plan of 14 items: 7 new, 3 duplicates", r.Kind, tt)
	}
	if got := group(r.Problems, "permission-denied"); !slices.Equal(got, []string{"secret.xlsx"}) {
		t.Errorf("permission-denied %v, want secret.xlsx", got)
	}
	for reason, name := range map[string]string{"size-limit": "big.iso", "calendar-invite": "invite.ics", "lockfile": "~$Q3 Report v2.txt"} {
		if got := group(r.Skipped, reason); !slices.Equal(got, []string{name}) {
			t.Errorf("skipped %s: %v, want %s", reason, got, name)
		}
	}
	actions := map[string]string{}
	for _, it := range all(r.Items) {
		actions[it.Ref] = it.Action
	}
	if actions["Finance/Old/Q4 Forecast.txt"] != "new" || actions["Finance/Q4 Forecast.txt"] != "duplicate" {
		t.Errorf("two copies of one new content: %q and %q, want the first by ref new", actions["Finance/Old/Q4 Forecast.txt"], actions["Finance/Q4 Forecast.txt"])
	}
	if len(r.Conflicts.Top) != 1 || r.Conflicts.Top[0].Path != "Mail attachments/Plan v2.txt" || len(r.Conflicts.Top[0].Heads) != 2 {
		t.Errorf("conflicts %+v, want the Plan thread with 2 latest versions", r.Conflicts)
	}
	if len(r.Forks.Top) != 1 || !slices.Equal(r.Forks.Top[0].Children, []int{2, 3}) {
		t.Errorf("forks %+v, want version 1 of Plan edited into 2 and 3", r.Forks)
	}
	checkSpec(t, r)
	// Spec v3 was matched to stored content by its sha256: not read again.
	if e := r.Estimate; e.BytesToRead != tt.Bytes-622 || e.ItemsToRead != tt.New+tt.Duplicate-1 || e.BytesToStore != tt.NewBytes {
		t.Errorf("estimate %+v with totals %+v", e, tt)
	}
	if dups := all(r.Duplicates); len(dups) == 0 || int64(len(dups)) != r.Duplicates.Len || dups[0].Copies < 2 || dups[0].SavedBytes != dups[0].Size*int64(dups[0].Copies-1) {
		t.Errorf("duplicates %+v", r.Duplicates)
	}
}

// checkSpec: the SharePoint file's four versions, linked by its history,
// with the revert kept as its own version.
func checkSpec(t *testing.T, r *report.Report) {
	t.Helper()
	i := slices.IndexFunc(r.Documents.Top, func(d report.Document) bool { return d.Name == "Spec.txt" })
	if i < 0 {
		t.Fatal("no Spec.txt document")
	}
	d := r.Documents.Top[i]
	if len(d.Versions) != 4 || d.Change != report.ChangeUpdated {
		t.Fatalf("Spec.txt: %d versions, change %s; want 4, updated", len(d.Versions), d.Change)
	}
	for _, v := range d.Versions[1:] {
		if len(v.Parents) != 1 || v.Parents[0].Reason != history.ReasonSharePoint || v.Parents[0].ParentSeq != v.Seq-1 {
			t.Errorf("Spec.txt v%d parents %+v, want the previous SharePoint version", v.Seq, v.Parents)
		}
		if v.Seen[0].VersionID == "" || v.Seen[0].Library != "Shared Documents" {
			t.Errorf("Spec.txt v%d seen %+v, want SharePoint item and version", v.Seq, v.Seen[0])
		}
	}
	if d.Versions[0].SHA256 != d.Versions[2].SHA256 || d.Versions[0].New || !d.Versions[2].New {
		t.Error("Spec.txt: the revert (v3) should carry v1's content and be new")
	}
}

// TestPastRunReport: a report of a stored run has no per-source "seen".
func TestPastRunReport(t *testing.T) {
	f := newFixture(t, 4)
	f.seedFirst()
	res := f.sync()
	run, err := f.cat.GetRun(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Build(context.Background(), f.cat, []report.Run{report.FromStored(run)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "run" || r.Totals.Seen != res.Counts.Scanned || r.Totals.New != res.Counts.New {
		t.Errorf("kind %s totals %+v, run counts %v", r.Kind, r.Totals, res.Counts)
	}
	for _, s := range r.Sources {
		if s.Seen != -1 || s.Known != -1 {
			t.Errorf("source %s: seen %d known %d, want -1 (not recorded per source)", s.Name, s.Seen, s.Known)
		}
	}
	if r.Totals.NewDocuments != r.Totals.Documents {
		t.Errorf("first run: %d of %d documents new", r.Totals.NewDocuments, r.Totals.Documents)
	}
}
