package sharepoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
)

func TestConfigErrors(t *testing.T) {
	t.Setenv("SYNCD_TEST_GRAPH_SECRET", "s3cr3t-value")
	cases := map[string]string{
		"no credentials":  "site: a.sharepoint.com:/sites/x\n",
		"two credentials": "site: a.sharepoint.com:/sites/x\naccess_token_env: X\nclient_secret_env: Y\ntenant_id: t\nclient_id: c\n",
		"no tenant":       "site: a.sharepoint.com:/sites/x\nclient_secret_env: SYNCD_TEST_GRAPH_SECRET\n",
		"no scope":        "access_token_env: SYNCD_TEST_GRAPH_SECRET\n",
		"unknown key":     "site: a.sharepoint.com:/sites/x\naccess_token_env: SYNCD_TEST_GRAPH_SECRET\nlibrarys: [x]\n",
		"bad graph_url":   "site: a.sharepoint.com:/sites/x\naccess_token_env: SYNCD_TEST_GRAPH_SECRET\ngraph_url: graph.microsoft.com\n",
		"unset token env": "site: a.sharepoint.com:/sites/x\naccess_token_env: SYNCD_TEST_NOT_SET_ANYWHERE\n",
	}
	for name, y := range cases {
		_, err := connectors.New(connectortest.Config(t, "name: sp\ntype: sharepoint\n"+y))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t-value") {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
}

func TestClientSecretConfigBuilds(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := connectors.New(connectortest.Config(t, "name: sp\ntype: sharepoint\ntenant_id: 00000000-0000-0000-0000-000000000000\n"+
		"client_id: 11111111-1111-1111-1111-111111111111\nclient_secret_file: "+p+"\nsite: contoso.sharepoint.com:/sites/finance\n"+
		"authority_host: https://login.microsoftonline.us/\ngraph_url: https://graph.microsoft.us/v1.0\n"))
	if err != nil {
		t.Fatalf("client secret config: %v", err)
	}
}

func TestFolderAndLibraryScope(t *testing.T) {
	f := newFake(t)
	s := newSourceEnv(t, f, "", &connectors.Env{})
	s.opt.UserDrives = nil
	s.opt.Libraries = []string{"documents"}
	s.opt.Folder = "Planning"
	rec, _ := connectortest.Scan(t, s, nil)
	names := map[string]bool{}
	for _, it := range rec.Items {
		names[it.Name] = true
	}
	if len(names) != 2 || !names["Budget 2024.xlsx"] || !names["Finance Notebook"] {
		t.Errorf("folder Planning of Documents reported %v", names)
	}
	s.opt.Libraries = []string{"No Such Library"}
	if _, err := s.Scan(t.Context(), nil, &connectortest.Recorder{}); err == nil || !strings.Contains(err.Error(), "No Such Library") {
		t.Errorf("missing library: %v", err)
	}
}

func TestMaxVersionsAndMaxSize(t *testing.T) {
	f := newFake(t)
	s := newSource(t, f, "max_versions: 2\nmax_size: 30\n")
	rec, _ := connectortest.Scan(t, s, nil)
	got := byRef(rec.Items)
	if got[versionRef(financeDocs, budgetID, "1.0")] != nil {
		t.Error("max_versions 2 still reported the oldest of three versions")
	}
	v3 := got[versionRef(financeDocs, budgetID, "3.0")]
	if v3 == nil || v3.Lineage.VersionIndex != 3 {
		t.Fatalf("newest version missing or misnumbered: %+v", v3)
	}
	if m := got[versionRef(financeDocs, minutesID, "1.0")]; m == nil || m.Skip != "size-limit" {
		t.Errorf("31-byte Minutes with max_size 30: %+v", m)
	}
}
