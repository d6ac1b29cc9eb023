package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/syncd/syncd/connectors/sharepoint" // registers type sharepoint
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// copiedLibraries writes a fake manifest: two sites each holding a copy of
// one library (same item ids, versions, times and bytes), 2 files of 3
// versions each.
func copiedLibraries(t *testing.T) string {
	t.Helper()
	type ver struct {
		ID       string         `json:"id"`
		Modified string         `json:"lastModifiedDateTime"`
		By       map[string]any `json:"lastModifiedBy"`
		Content  string         `json:"content"`
	}
	var items []map[string]any
	for _, name := range []string{"Policy.docx", "Rota.xlsx"} {
		var vers []ver
		for v := 3; v >= 1; v-- {
			vers = append(vers, ver{ID: fmt.Sprintf("%d.0", v), Modified: fmt.Sprintf("2024-03-0%dT10:00:00Z", v),
				By: map[string]any{"user": map[string]string{"email": "bob@contoso.com"}}, Content: fmt.Sprintf("%s version %d\n", name, v)})
		}
		items = append(items, map[string]any{"id": "01ITEM" + name[:4], "name": name, "createdDateTime": "2024-03-01T10:00:00Z",
			"parentReference": map[string]string{"path": "/drive/root:/Policies"}, "file": map[string]string{"mimeType": "application/octet-stream"},
			"versions": vers})
	}
	site := func(n int) map[string]any {
		return map[string]any{"id": fmt.Sprintf("contoso.sharepoint.com,%d", n), "name": fmt.Sprintf("hr%d", n),
			"displayName": "HR", "webUrl": fmt.Sprintf("https://contoso.sharepoint.com/sites/hr%d", n),
			"drives": []any{map[string]any{"id": fmt.Sprintf("b!HR%d", n), "name": "Documents", "items": items}}}
	}
	b, err := json.Marshal(map[string]any{"sites": []any{site(1), site(2)}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOldVersionsDownloadedOnce: Graph gives old SharePoint versions no
// hash, so their version key (item id, version id, time, size) is what
// spares downloads: two sites holding a copy of one library, and the
// library listed afresh after its delta tokens expired (410), download
// each old version once in all.
func TestOldVersionsDownloadedOnce(t *testing.T) {
	f, err := graphfake.NewFromManifest(copiedLibraries(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("SYNCD_TEST_GRAPH_TOKEN", "any-token")
	dir := t.TempDir()
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	blobs, err := dedupe.OpenDisk(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	eng := &engine.Engine{Catalog: cat, Blobs: blobs}
	run := func(sources ...string) *engine.Result {
		t.Helper()
		text := "store: {path: ./data}\njobs:\n  - name: hr\n    parallel: 1\n    sources:\n"
		for _, s := range sources {
			text += fmt.Sprintf("      - {name: %s, type: sharepoint, site: \"contoso.sharepoint.com:/sites/%s\", graph_url: %q, access_token_env: SYNCD_TEST_GRAPH_TOKEN}\n",
				s, s[:3], f.URL())
		}
		cfg, err := engine.ParseConfig(filepath.Join(dir, "syncd.yaml"), []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		res, err := eng.RunJob(context.Background(), cfg.File, &cfg.Jobs[0])
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != workspace.StatusOK {
			t.Fatalf("run %v: status %s, counts %v", sources, res.Status, res.Counts)
		}
		return res
	}
	const oldVersions, currents = 4, 2 // per library
	check := func(when string) {
		t.Helper()
		if n := f.Count(graphfake.RouteVersionContent); n != oldVersions {
			t.Errorf("%s: %d old-version downloads, want %d (each once)", when, n, oldVersions)
		}
		if n := f.Count(graphfake.RouteContent); n != currents {
			t.Errorf("%s: %d current-version downloads, want %d", when, n, currents)
		}
	}
	res := run("hr1", "hr2") // the library and its copy on another site
	check("two sites")
	if res.Counts.New != oldVersions+currents || res.Counts.HashHits != oldVersions+currents {
		t.Errorf("two sites: counts %v; want %d new and %d known by hash", res.Counts, oldVersions+currents, oldVersions+currents)
	}
	for _, d := range f.DriveIDs() {
		if err := f.ExpireDeltaTokens(d); err != nil {
			t.Fatal(err)
		}
	}
	run("hr1", "hr2") // 410: re-enumerated
	check("after 410")
	run("hr1-relisted") // the same library listed afresh by a new source
	check("listed afresh")
}
