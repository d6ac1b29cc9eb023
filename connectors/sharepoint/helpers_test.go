package sharepoint

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

const fixtureDir = "../../fixtures/sharepoint/basic"

const (
	financeDocs = "b!FINANCEdocs0000000000000000000000000000000000000000000000000001"
	budgetID    = "01FIN0000000000000000000000000BUDGET"
	minutesID   = "01FIN00000000000000000000000MINUTES"
)

func newFake(t testing.TB) *graphfake.Server {
	t.Helper()
	f, err := graphfake.NewFromManifest(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// yamlFor is the source config against a fake; extra is appended.
func yamlFor(f *graphfake.Server, extra string) string {
	return fmt.Sprintf(`name: sp
type: sharepoint
access_token_env: SYNCD_TEST_GRAPH_TOKEN
site: contoso.sharepoint.com:/sites/finance
user_drives: [alice.hughes@contoso.com]
graph_url: %s
%s`, f.URL(), extra)
}

func newSource(t testing.TB, f *graphfake.Server, extra string) *Source {
	t.Helper()
	return newSourceEnv(t, f, extra, &connectors.Env{})
}

func newSourceEnv(t testing.TB, f *graphfake.Server, extra string, env *connectors.Env) *Source {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Setenv("SYNCD_TEST_GRAPH_TOKEN", "any-token")
	}
	cfg := connectortest.Config(t, yamlFor(f, extra))
	cfg.Env = env
	src, err := connectors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*Source)
}

func byRef(items []*connectors.Item) map[connectors.Ref]*connectors.Item {
	m := map[connectors.Ref]*connectors.Item{}
	for _, it := range items {
		m[it.Ref] = it
	}
	return m
}

func versionRef(drive, item, version string) connectors.Ref {
	return connectors.Ref(fmt.Sprintf("drive/%s/item/%s/version/%s", drive, item, version))
}

func read(t testing.TB, s *Source, it *connectors.Item) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		t.Fatalf("open %s: %v", it.Ref, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", it.Ref, err)
	}
	return b
}

func itemRef(drive, item string) connectors.Ref {
	return connectors.Ref("drive/" + drive + "/item/" + item)
}
