package sharepoint

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

// siteSource is a source over one site of a fake; extra is appended.
func siteSource(t *testing.T, f *graphfake.Server, site, extra string) *Source {
	t.Helper()
	t.Setenv("SYNCD_TEST_GRAPH_TOKEN", "any-token")
	cfg := connectortest.Config(t, fmt.Sprintf("name: sp\ntype: sharepoint\naccess_token_env: SYNCD_TEST_GRAPH_TOKEN\nsite: %q\ngraph_url: %s\n%s",
		site, f.URL(), extra))
	src, err := connectors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*Source)
}

// TestParentOnLaterPage: delta lists a file before its folders (here the
// folders were created after the file, which was then moved into them) and
// the folders come on later pages. The file still gets its real path, and
// a folder: scope still finds it.
func TestParentOnLaterPage(t *testing.T) {
	f := graphfake.New()
	t.Cleanup(f.Close)
	st := f.AddSite("contoso.sharepoint.com", "/sites/hr", "HR")
	drv, err := f.AddDrive(st.ID, "Documents")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 4, 2, 9, 0, 0, 0, time.UTC)
	id, err := f.AddFile(drv, "", "Plan.docx", graphfake.Bytes([]byte("plan v1")), bob, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Move(drv, id, "Reports/2024"); err != nil {
		t.Fatal(err)
	}
	other, err := f.AddFile(drv, "Reports/2024", "Budget.xlsx", graphfake.Bytes([]byte("budget")), bob, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.PageSize = 1 // root, Plan.docx, Reports, 2024, Budget.xlsx: one per page
	for _, extra := range []string{"", "folder: Reports"} {
		rec, _ := connectortest.Scan(t, siteSource(t, f, st.Key(), extra), nil)
		got := map[string]string{}
		for _, it := range rec.Items {
			got[it.Lineage.ItemID] = it.Path
		}
		for _, want := range []string{id, other} {
			if p, ok := got[want]; !ok || p != "Reports/2024" {
				t.Errorf("%q: item %s path %q (listed: %v), want Reports/2024", extra, want, p, ok)
			}
		}
		if len(rec.Problems) > 0 {
			t.Errorf("%q: problems %v", extra, rec.Problems)
		}
	}
}

// TestUnparseableTimestamps: a site and an item with "createdDateTime": ""
// and a version whose lastModifiedDateTime is not a time fail neither the
// source nor the page: every version is listed, the bad values are
// ignored, and problems name the items.
func TestUnparseableTimestamps(t *testing.T) {
	f := graphfake.New()
	t.Cleanup(f.Close)
	st := f.AddSite("contoso.sharepoint.com", "/sites/legal", "Legal")
	drv, err := f.AddDrive(st.ID, "Documents")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 4, 2, 9, 0, 0, 0, time.UTC)
	a, _ := f.AddFile(drv, "Contracts", "NDA.docx", graphfake.Bytes([]byte("nda")), bob, t0)
	b, _ := f.AddFile(drv, "Contracts", "Lease.docx", graphfake.Bytes([]byte("lease v1")), bob, t0)
	if _, err := f.AddVersion(drv, b, graphfake.Bytes([]byte("lease v2")), bob, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c, _ := f.AddFile(drv, "Contracts", "Clean.docx", graphfake.Bytes([]byte("clean")), bob, t0)
	for _, err := range []error{
		f.SetSiteField(st.ID, "createdDateTime", ""),
		f.SetItemField(drv, a, "createdDateTime", ""),
		f.SetVersionField(drv, b, "1.0", "lastModifiedDateTime", "last Tuesday"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := connectortest.Scan(t, siteSource(t, f, st.Key(), ""), nil)
	got := map[connectors.Ref]*connectors.Item{}
	for _, it := range rec.Items {
		got[it.Ref] = it
	}
	for _, r := range []connectors.Ref{versionRef(drv, a, "1.0"), versionRef(drv, b, "1.0"), versionRef(drv, b, "2.0"), versionRef(drv, c, "1.0")} {
		if got[r] == nil {
			t.Errorf("%s not listed (%d items)", r, len(rec.Items))
		}
	}
	if it := got[versionRef(drv, b, "1.0")]; it != nil && (!it.ModTime.IsZero() || it.Hashes[HashVersionKey] != "") {
		t.Errorf("version with a bad time: ModTime %v, key %q; want none", it.ModTime, it.Hashes[HashVersionKey])
	}
	if it := got[versionRef(drv, a, "1.0")]; it != nil && !it.ModTime.Equal(t0) {
		t.Errorf("NDA.docx: ModTime %v, want %v (only createdDateTime was bad)", it.ModTime, t0)
	}
	want := []string{"Contracts/NDA.docx (item " + a + ")", "Contracts/Lease.docx version 1.0 (item " + b + ")"}
	var names []string
	for _, p := range rec.Problems {
		names = append(names, p.Name)
		if !errors.Is(p.Err, errBadTimestamp) {
			t.Errorf("problem %v: not errBadTimestamp", p)
		}
	}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("problems %q, want %q", names, want)
	}
}
