package sharepoint

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
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

func TestClientSecretAgainstFakeAuthority(t *testing.T) {
	f := graphfake.NewTLS()
	defer f.Close()
	if err := f.LoadManifest(fixtureDir); err != nil {
		t.Fatal(err)
	}
	f.SetClientSecret("11111111-1111-1111-1111-111111111111", "right-secret")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, f.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(secret string) string {
		t.Setenv("SYNCD_TEST_GRAPH_SECRET", secret)
		return "name: sp\ntype: sharepoint\ntenant_id: 00000000-0000-0000-0000-000000000000\n" +
			"client_id: 11111111-1111-1111-1111-111111111111\nclient_secret_env: SYNCD_TEST_GRAPH_SECRET\n" +
			"site: contoso.sharepoint.com:/sites/finance\nlibraries: [Contracts]\ngraph_url: " + f.URL() + "\n" +
			"authority_host: " + f.AuthorityURL() + "\ndisable_instance_discovery: true\nca_file: " + ca + "\n"
	}
	src, err := connectors.New(connectortest.Config(t, cfg("right-secret")))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rec, _ := connectortest.Scan(t, src, nil)
	if len(rec.Content()) != 2 || f.TokensIssued() != 1 {
		t.Errorf("client-secret scan: %d items, %d tokens issued; want 2 and 1", len(rec.Content()), f.TokensIssued())
	}
	bad, err := connectors.New(connectortest.Config(t, cfg("wrong-secret")))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Scan(t.Context(), nil, &connectortest.Recorder{})
	if err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong secret: err %v (must fail without echoing the secret)", err)
	}
}

func TestClientCertificateAgainstFakeAuthority(t *testing.T) {
	f := graphfake.NewTLS()
	defer f.Close()
	if err := f.LoadManifest(fixtureDir); err != nil {
		t.Fatal(err)
	}
	f.SetClientSecret("11111111-1111-1111-1111-111111111111", "unused")
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, f.CertPEM(), 0o600)
	certFile := filepath.Join(dir, "app.pem")
	os.WriteFile(certFile, selfSignedPEM(t), 0o600)
	src, err := connectors.New(connectortest.Config(t, "name: sp\ntype: sharepoint\ntenant_id: 00000000-0000-0000-0000-000000000000\n"+
		"client_id: 11111111-1111-1111-1111-111111111111\nclient_certificate_file: "+certFile+"\n"+
		"site: contoso.sharepoint.com:/sites/finance\nlibraries: [Contracts]\ngraph_url: "+f.URL()+"\n"+
		"authority_host: "+f.AuthorityURL()+"\ndisable_instance_discovery: true\nca_file: "+ca+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rec, _ := connectortest.Scan(t, src, nil)
	if len(rec.Content()) != 2 || f.TokensIssued() != 1 {
		t.Errorf("certificate scan: %d items, %d tokens; want 2 and 1", len(rec.Content()), f.TokensIssued())
	}
}

// selfSignedPEM returns a PEM certificate and its PKCS#8 key.
func selfSignedPEM(t *testing.T) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048) // Entra accepts RSA certificates only
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syncd-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})...)
}
