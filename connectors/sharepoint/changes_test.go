package sharepoint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

var bob = graphfake.Identity{DisplayName: "Bob Stone", Email: "bob.stone@contoso.com"}

func TestNewVersionReportsOnlyIt(t *testing.T) {
	f := newFake(t)
	_, cur := connectortest.Scan(t, newSource(t, f, ""), nil)
	vid, err := f.AddVersion(financeDocs, budgetID, graphfake.Bytes([]byte("budget v4: final\n")), bob, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	f.ResetCounts()
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, cur)
	if len(rec.Items) != 1 {
		t.Fatalf("rescan reported %d items, want the new version only: %v", len(rec.Items), rec.Items)
	}
	it := rec.Items[0]
	if it.Ref != versionRef(financeDocs, budgetID, vid) || !it.Lineage.Current || it.Lineage.VersionIndex != 4 ||
		it.Author != "bob.stone@contoso.com" || !it.ModTime.Equal(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("new version item %+v lineage %+v", it, it.Lineage)
	}
	if string(read(t, s, it)) != "budget v4: final\n" {
		t.Error("new version content differs")
	}
	if c := f.Count(graphfake.RouteVersions); c != 1 {
		t.Errorf("versions listed for %d items, want 1 (the changed one)", c)
	}
	// The former current version is now served from /versions/{id}/content.
	old := &connectors.Item{Ref: versionRef(financeDocs, budgetID, "3.0"), Size: -1,
		Lineage: connectors.Lineage{SharePointLineage: connectors.SharePointLineage{VersionID: "3.0"}}}
	if string(read(t, s, old)) != "budget v3: approved figures\n" {
		t.Error("former current version content differs")
	}
}

func TestDeletionIsReported(t *testing.T) {
	f := newFake(t)
	_, cur := connectortest.Scan(t, newSource(t, f, ""), nil)
	if err := f.Delete(financeDocs, minutesID); err != nil {
		t.Fatal(err)
	}
	rec, cur2 := connectortest.Scan(t, newSource(t, f, ""), cur)
	if len(rec.Items) != 0 || len(rec.Gones) != 1 {
		t.Fatalf("rescan reported %d items and gone %v, want 1 deletion only", len(rec.Items), rec.Gones)
	}
	want := connectors.Gone{Ref: itemRef(financeDocs, minutesID), Under: true, Name: "Minutes.docx", Why: "deleted"}
	if g := rec.Gones[0]; g != want {
		t.Errorf("deletion reported as %+v, want %+v", g, want)
	}
	rec, _ = connectortest.Scan(t, newSource(t, f, ""), cur2)
	if len(rec.Items)+len(rec.Gones) != 0 {
		t.Errorf("deletion reported again: %v %v", rec.Items, rec.Gones)
	}
}

// An item moved out of the configured folder, directly or with its
// folder, is gone from the source's scope; moved back, it is listed again.
func TestMovedOutOfScope(t *testing.T) {
	f := newFake(t)
	scoped := func() *Source {
		s := newSource(t, f, "")
		s.opt.UserDrives, s.opt.Libraries, s.opt.Folder = nil, []string{"documents"}, "Planning"
		return s
	}
	rec, cur := connectortest.Scan(t, scoped(), nil)
	var budgetPath string
	for _, it := range rec.Items {
		if it.Lineage.ItemID == budgetID {
			budgetPath = it.Path
		}
	}
	if budgetPath == "" {
		t.Fatal("Budget 2024.xlsx not listed in Planning")
	}
	if err := f.Move(financeDocs, budgetID, "Archive"); err != nil {
		t.Fatal(err)
	}
	rec, cur = connectortest.Scan(t, scoped(), cur)
	want := connectors.Gone{Ref: itemRef(financeDocs, budgetID), Under: true, Name: "Archive/Budget 2024.xlsx", Why: "out-of-scope"}
	if len(rec.Items) != 0 || len(rec.Gones) != 1 || rec.Gones[0] != want {
		t.Fatalf("after the move out: items %v gone %+v, want only %+v", rec.Items, rec.Gones, want)
	}
	rec, cur = connectortest.Scan(t, scoped(), cur)
	if len(rec.Items)+len(rec.Gones) != 0 {
		t.Errorf("out of scope reported again: %v %v", rec.Items, rec.Gones)
	}
	if err := f.Move(financeDocs, budgetID, budgetPath); err != nil {
		t.Fatal(err)
	}
	rec, cur = connectortest.Scan(t, scoped(), cur)
	if len(rec.Gones) != 0 || len(rec.Items) != 3 {
		t.Errorf("moved back: %d items (want its 3 versions again), gone %v", len(rec.Items), rec.Gones)
	}
	// Its folder moved out of scope takes it along.
	folder, ok := f.ItemID(financeDocs, budgetPath)
	if !ok {
		t.Fatalf("no folder %s", budgetPath)
	}
	if err := f.Move(financeDocs, folder, "Archive"); err != nil {
		t.Fatal(err)
	}
	rec, _ = connectortest.Scan(t, scoped(), cur)
	want.Name = "Archive/" + budgetPath[strings.LastIndexByte(budgetPath, '/')+1:] + "/Budget 2024.xlsx"
	if len(rec.Items) != 0 || len(rec.Gones) != 1 || rec.Gones[0] != want {
		t.Errorf("after its folder moved out: items %v gone %+v, want only %+v", rec.Items, rec.Gones, want)
	}
}

func TestRenameAndMoveReemitCurrentVersion(t *testing.T) {
	f := newFake(t)
	_, cur := connectortest.Scan(t, newSource(t, f, ""), nil)
	if err := f.Rename(financeDocs, budgetID, "Budget 2024 FINAL.xlsx"); err != nil {
		t.Fatal(err)
	}
	if err := f.Move(financeDocs, minutesID, "Meetings/2024"); err != nil {
		t.Fatal(err)
	}
	f.ResetCounts()
	rec, _ := connectortest.Scan(t, newSource(t, f, ""), cur)
	got := byRef(rec.Items)
	b := got[versionRef(financeDocs, budgetID, "3.0")]
	m := got[versionRef(financeDocs, minutesID, "1.0")]
	if len(rec.Items) != 2 || b == nil || m == nil {
		t.Fatalf("rescan after rename/move reported %v", rec.Items)
	}
	if b.Name != "Budget 2024 FINAL.xlsx" || b.Path != "Planning/2024" || !b.Lineage.Current || b.Lineage.VersionIndex != 3 {
		t.Errorf("renamed: %+v %+v", b, b.Lineage)
	}
	if m.Name != "Minutes.docx" || m.Path != "Meetings/2024" {
		t.Errorf("moved: name %q path %q", m.Name, m.Path)
	}
	if c := f.Count(graphfake.RouteVersions); c != 0 {
		t.Errorf("rename/move listed versions %d times, want 0", c)
	}
}

func TestResyncAfter410(t *testing.T) {
	f := newFake(t)
	_, cur := connectortest.Scan(t, newSource(t, f, ""), nil)
	if _, err := f.AddVersion(financeDocs, budgetID, graphfake.Bytes([]byte("budget v4\n")), bob, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(financeDocs, minutesID); err != nil {
		t.Fatal(err)
	}
	if err := f.ExpireDeltaTokens(financeDocs); err != nil {
		t.Fatal(err)
	}
	f.ResetCounts()
	s := newSource(t, f, "")
	rec, cur2 := connectortest.Scan(t, s, cur)
	got := byRef(rec.Items)
	if len(rec.Items) != 1 || got[versionRef(financeDocs, budgetID, "4.0")] == nil {
		t.Fatalf("after 410: %d items %v, want the new version", len(rec.Items), rec.Items)
	}
	if len(rec.Gones) != 1 || rec.Gones[0].Ref != itemRef(financeDocs, minutesID) || !rec.Gones[0].Under || rec.Gones[0].Why != "deleted" {
		t.Errorf("deletion not reconciled after 410: %+v", rec.Gones)
	}
	c := f.Counts()
	if c[graphfake.RouteVersions] != 1 || c[graphfake.RouteContent]+c[graphfake.RouteDownload] != 0 {
		t.Errorf("410 re-enumeration requests %v: want versions of the changed file only, no downloads", c)
	}
	rec, _ = connectortest.Scan(t, newSource(t, f, ""), cur2)
	if len(rec.Items)+len(rec.Gones) != 0 {
		t.Errorf("scan after resync reported %d items, gone %v", len(rec.Items), rec.Gones)
	}
}

func TestInjected410OnDeltaPage(t *testing.T) {
	f := newFake(t)
	f.PageSize = 2
	f.Inject(graphfake.Rule{Route: graphfake.RouteDelta, After: 2, Fault: graphfake.Fault{Status: 410}})
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, nil)
	refs := map[connectors.Ref]int{}
	for _, it := range rec.Items {
		refs[it.Ref]++
	}
	for r, n := range refs {
		if n > 1 {
			t.Errorf("%s reported %d times", r, n)
		}
	}
	if n := len(rec.Content()); n != 7 {
		t.Errorf("%d content items after a 410 mid-enumeration, want 7", n)
	}
}

func TestFailedVersionListingIsRetriedNextScan(t *testing.T) {
	f := newFake(t)
	f.Inject(graphfake.Rule{Route: graphfake.RouteVersions, Fault: graphfake.Fault{Status: 500}})
	rec, cur := connectortest.Scan(t, newSource(t, f, "concurrency: 1\n"), nil)
	if len(rec.Problems) != 1 || len(rec.Content()) != 4 {
		// Versions are listed in delta order: the Budget's (3 versions) fail.
		t.Fatalf("problems %v, content %d", rec.Problems, len(rec.Content()))
	}
	p := rec.Problems[0]
	if p.Name != "Planning/2024/Budget 2024.xlsx" || !strings.Contains(p.Error(), "500") {
		t.Errorf("problem does not name the item and the failure: %v", p)
	}
	before := len(rec.Content())
	rec, _ = connectortest.Scan(t, newSource(t, f, ""), cur)
	if len(rec.Problems) != 0 || len(rec.Content())+before != 7 || len(rec.Content()) == 0 {
		t.Errorf("retry scan: %d problems, %d content items (first scan had %d)", len(rec.Problems), len(rec.Content()), before)
	}
}

// TestRetryItemFailureIsItsProblem: a 500 on one asked item's versions is
// that ref's Problem, as in a scan; the other asked refs still come back
// and Retry itself does not fail.
func TestRetryItemFailureIsItsProblem(t *testing.T) {
	f := newFake(t)
	rec, _ := connectortest.Scan(t, newSource(t, f, ""), nil)
	minutes := versionRef(financeDocs, minutesID, "1.0")
	if byRef(rec.Items)[minutes] == nil {
		t.Fatalf("fixture: no %s", minutes)
	}
	f.Inject(graphfake.Rule{Route: graphfake.RouteVersions, Path: budgetID, Times: 1 << 20, Fault: graphfake.Fault{Status: 500}})
	budget := connectors.Ref("drive/" + financeDocs + "/item/" + budgetID)
	got := &connectortest.Recorder{}
	if err := newSource(t, f, "").Retry(context.Background(), []connectors.Ref{budget, minutes}, got); err != nil {
		t.Fatalf("Retry with one failing item: %v", err)
	}
	if len(got.Problems) != 1 || got.Problems[0].Ref != budget || !strings.Contains(got.Problems[0].Error(), "500") {
		t.Errorf("problems %v, want one for %s naming the 500", got.Problems, budget)
	}
	if len(got.Items) != 1 || got.Items[0].Ref != minutes {
		t.Errorf("retried items %v, want %s", summaryOf(got.Items), minutes)
	}
}

func summaryOf(items []*connectors.Item) []connectors.Ref {
	var out []connectors.Ref
	for _, it := range items {
		out = append(out, it.Ref)
	}
	return out
}

func TestMovedFolderReemitsFilesBelowIt(t *testing.T) {
	f := newFake(t)
	_, cur := connectortest.Scan(t, newSource(t, f, ""), nil)
	folder, ok := f.ItemID(financeDocs, "Planning/2024")
	if !ok {
		t.Fatal("no Planning/2024 folder")
	}
	if err := f.Move(financeDocs, folder, "Archive"); err != nil {
		t.Fatal(err)
	}
	rec, _ := connectortest.Scan(t, newSource(t, f, ""), cur)
	if len(rec.Items) != 1 {
		t.Fatalf("after moving a folder: %d items, want the current version of the file below it", len(rec.Items))
	}
	it := rec.Items[0]
	if it.Ref != versionRef(financeDocs, budgetID, "3.0") || it.Path != "Archive/2024" || !it.Lineage.Current {
		t.Errorf("moved folder's file: ref %s path %q", it.Ref, it.Path)
	}
}
