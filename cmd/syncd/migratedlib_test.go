package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

// TestMigratedLibraryThroughGraphAndDovecot: a SharePoint library moved by
// a migration tool: three versions of a checklist, each now an item whose
// only version is dated the migration day (day 40), served by the fake
// Graph server; the final was mailed on day 10 through Dovecot. After
// `syncd sync` the document's versions follow each file's own record of
// its last save, and the mailed final descends from the third.
func TestMigratedLibraryThroughGraphAndDovecot(t *testing.T) {
	t0 := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	sentences := []string{
		"Confirm the cutover window with the service owner.",
		"Freeze changes to the payroll configuration.",
		"Take a full backup of the ledger database.",
		"Check the supplier interface queues are empty.",
		"Run the reconciliation reports and file them.",
		"Brief the service desk on the fallback plan.",
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "content"), 0o755); err != nil {
		t.Fatal(err)
	}
	migrated := t0.Add(40 * 24 * time.Hour)
	drive := "b!OPSdocs00000000000000000000000000000000000000000000000000000001"
	var items []map[string]any
	var shas []string
	var final []byte
	for i := range 4 {
		data := checklistDocx(t, sentences[:3+i], t0.Add(time.Duration(i)*48*time.Hour), i+1)
		sum := sha256.Sum256(data)
		sha := hex.EncodeToString(sum[:])
		shas = append(shas, sha)
		if i == 3 {
			final = data
			break
		}
		if err := os.WriteFile(filepath.Join(dir, "content", sha), data, 0o644); err != nil {
			t.Fatal(err)
		}
		who := map[string]any{"user": map[string]any{"displayName": "Migration Service", "email": "migration@contoso.com"}}
		at := migrated.Add(time.Duration(i) * time.Second)
		items = append(items, map[string]any{
			"id": fmt.Sprintf("01OPS00000000000000000000000000000%d", i+1), "name": fmt.Sprintf("Checklist v%d.docx", i+1),
			"createdDateTime": at, "createdBy": who,
			"parentReference": map[string]any{"path": "/drives/" + drive + "/root:/Cutover"},
			"file":            map[string]any{"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
			"versions":        []map[string]any{{"id": "1.0", "lastModifiedDateTime": at, "lastModifiedBy": who, "size": len(data), "sha256": sha}},
		})
	}
	manifest := map[string]any{"sites": []map[string]any{{
		"id": "contoso.sharepoint.com,6b0f8a3e-1111-4c2a-9b7e-0a1b2c3d4e5f,2f4e6d8c-3333-4b1a-8c9d-1e2f3a4b5c6d", "name": "ops",
		"displayName": "Operations", "webUrl": "https://contoso.sharepoint.com/sites/ops",
		"drives": []map[string]any{{"id": drive, "name": "Documents", "driveType": "documentLibrary", "items": items}},
	}}}
	b, _ := json.Marshal(manifest)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := graphfake.NewFromManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	addr := mailDocx(t, "Checklist v4.docx", final, t0.Add(10*24*time.Hour))
	t.Setenv("SYNCD_TEST_GRAPH_TOKEN", "any-token")
	cfg := filepath.Join(t.TempDir(), "syncd.yaml")
	conf := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: ops\n    workspace: ops\n    sources:\n"+
		"      - name: sp\n        type: sharepoint\n        site: contoso.sharepoint.com:/sites/ops\n        access_token_env: SYNCD_TEST_GRAPH_TOKEN\n        graph_url: %s\n"+
		"      - name: imap-alice\n        type: imap\n        address: %q\n        tls: none\n        username: alice\n        password_env: %s\n",
		filepath.Join(t.TempDir(), "store"), g.URL(), addr, demoPasswordEnv)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	exp := syncExport(t, cfg)
	if len(exp.Documents) != 1 || len(exp.Documents[0].Versions) != 4 {
		t.Fatalf("export: %d documents, want one of 4 versions: %+v", len(exp.Documents), exp.Documents)
	}
	idOf := map[string]string{}
	for _, v := range exp.Documents[0].Versions {
		idOf[v.SHA256] = v.ID
	}
	for _, v := range exp.Documents[0].Versions {
		i := indexOf(shas, v.SHA256)
		if v.Seq != i+1 {
			t.Errorf("checklist v%d is version %d", i+1, v.Seq)
		}
		if i == 3 && (len(v.Parents) != 1 || v.Parents[0] != idOf[shas[2]]) {
			t.Errorf("the mailed final's parents %v, want v3 (%s)", v.Parents, idOf[shas[2]])
		}
	}
}
