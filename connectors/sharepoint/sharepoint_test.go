package sharepoint

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
	"github.com/syncd/syncd/dedupe"
)

func TestConformance(t *testing.T) {
	f := newFake(t)
	f.PageSize = 2 // checkpoints inside a library's enumeration, not only at its end
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Source { return newSource(t, f, "") },
		Mutate: func(t *testing.T) []string {
			if _, err := f.AddVersion(financeDocs, budgetID, graphfake.Bytes([]byte("budget v4\n")),
				graphfake.Identity{DisplayName: "Bob Stone", Email: "bob.stone@contoso.com"}, time.Now()); err != nil {
				t.Fatal(err)
			}
			return []string{"Budget 2024.xlsx"}
		},
		// Listing the Budget's versions fails with a 500 every time: the
		// file is a Problem, the other files are still listed.
		Break: func(t *testing.T) connectortest.Broken {
			f.Inject(graphfake.Rule{Route: graphfake.RouteVersions, Path: budgetID, Times: 1 << 20, Fault: graphfake.Fault{Status: 500}})
			return connectortest.Broken{Ref: connectors.Ref("drive/" + financeDocs + "/item/" + budgetID), Mentions: "Budget 2024.xlsx"}
		},
	})
}

func TestFullScanReportsEveryVersion(t *testing.T) {
	f := newFake(t)
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, nil)
	items := byRef(rec.Items)
	want := []string{"3.0", "2.0", "1.0"}
	for i, v := range want {
		it := items[versionRef(financeDocs, budgetID, v)]
		if it == nil {
			t.Fatalf("budget version %s not reported", v)
		}
		if it.Name != "Budget 2024.xlsx" || it.Path != "Planning/2024" || it.Fingerprint != "" {
			t.Errorf("version %s: name %q path %q fp %q", v, it.Name, it.Path, it.Fingerprint)
		}
		if it.Lineage.Kind != "sharepoint" || it.Lineage.VersionIndex != 3-i || it.Lineage.Current != (i == 0) ||
			it.Lineage.VersionID != v || it.Lineage.ItemID != budgetID || it.Lineage.DriveName != "Documents" ||
			!strings.HasPrefix(it.Lineage.Site, "contoso.sharepoint.com,") {
			t.Errorf("version %s lineage %+v", v, it.Lineage)
		}
		b := read(t, s, it)
		if !strings.HasPrefix(string(b), "budget v"+v[:1]) || int64(len(b)) != it.Size {
			t.Errorf("version %s content %q size %d", v, b, it.Size)
		}
		if i == 0 {
			sums, _ := dedupe.HashReader(bytes.NewReader(b))
			if it.Hashes[connectors.HashQuickXor] != sums.QuickXor {
				t.Errorf("current quickxor %q, content hashes to %q", it.Hashes[connectors.HashQuickXor], sums.QuickXor)
			}
		} else if len(it.Hashes) != 1 || it.Hashes[HashVersionKey] == "" {
			t.Errorf("older version %s carries hashes %v, want its version key only (Graph gives none)", v, it.Hashes)
		}
	}
	if a := items[versionRef(financeDocs, budgetID, "3.0")].Author; a != "bob.stone@contoso.com" {
		t.Errorf("author %q", a)
	}
	if a := items[versionRef(financeDocs, minutesID, "1.0")].Author; a != "Carol Diaz" {
		t.Errorf("author without email: %q", a)
	}
	skips := map[string]string{}
	for _, it := range rec.Items {
		if it.Skip != "" {
			skips[it.Name] = it.Skip
		}
	}
	if skips["Finance Notebook"] != "package" || skips["Salaries.xlsx"] != "no-content-access" || len(skips) != 2 {
		t.Errorf("skips %v", skips)
	}
	// Budget 3 + Minutes 1 + Supplier 2 + Alice's notes 1.
	if n := len(rec.Content()); n != 7 {
		t.Errorf("%d content items, want 7", n)
	}
	if u := f.UserAgent(); !strings.HasPrefix(u, "ISV|syncd|syncd/") {
		t.Errorf("User-Agent %q", u)
	}
}

func TestPagingCheckpointsEachPage(t *testing.T) {
	f := newFake(t)
	f.PageSize = 2
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, nil)
	if n := len(rec.Content()); n != 7 {
		t.Fatalf("%d content items with paging, want 7", n)
	}
	// Documents has 9 delta entries (5 pages), Contracts 3 (2), OneDrive 3 (2).
	if got := f.Count(graphfake.RouteDelta); got != 9 {
		t.Errorf("delta requests %d, want 9", got)
	}
	if len(rec.Checkpoints) != 9 {
		t.Errorf("%d checkpoints, want one per page (9)", len(rec.Checkpoints))
	}
	// Resuming from a mid-drive checkpoint misses nothing.
	mid := rec.Checkpoints[2]
	s2 := newSource(t, f, "")
	rec2, _ := connectortest.Scan(t, s2, mid)
	seen := map[connectors.Ref]bool{}
	for _, it := range rec.Items[:0] {
		seen[it.Ref] = true
	}
	for _, it := range rec2.Content() {
		seen[it.Ref] = true
	}
	if !seen[versionRef("b!FINANCEcontracts00000000000000000000000000000000000000000000002", "01CON0000000000000000000000SUPPLIER", "1.0")] {
		t.Errorf("resume from checkpoint lost the Contracts library")
	}
}

func TestSecondRunOneDeltaRequestPerDrive(t *testing.T) {
	f := newFake(t)
	_, cur := connectortest.Scan(t, newSource(t, f, ""), nil)
	f.ResetCounts()
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, cur)
	if len(rec.Items) != 0 {
		t.Errorf("unchanged rescan reported %d items", len(rec.Items))
	}
	c := f.Counts()
	if c[graphfake.RouteDelta] != 3 || c[graphfake.RouteVersions] != 0 || c[graphfake.RouteContent]+c[graphfake.RouteDownload] != 0 {
		t.Errorf("unchanged rescan requests %v, want 3 delta, no versions, no content", c)
	}
	m := s.Counters()
	if m.DeltaRequests != 3 || m.Downloads != 0 {
		t.Errorf("counters %+v", m)
	}
	t.Logf("second run requests by route: %v", c)
}
