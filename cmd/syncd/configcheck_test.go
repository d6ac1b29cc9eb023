package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/internal/yamlx"
)

// sourceConfig is a config of one job with one source entry (text indented
// as the entry's keys, one per line, the first being line 5).
func sourceConfig(entry string) string {
	return "store: {path: ./s}\njobs:\n  - name: j\n    sources:\n      - " +
		strings.ReplaceAll(strings.TrimSpace(entry), "\n", "\n        ") + "\n"
}

// TestSourceConfigErrorsAtLoad: every connector type's keys are checked
// when the config is loaded: an unknown key, a wrong type, a missing
// required key, an unset secret variable or an unreadable secret file is a
// yamlx.Error naming file, line and key (and the variable), never a
// connection error at run time.
func TestSourceConfigErrorsAtLoad(t *testing.T) {
	t.Setenv("SYNCD_TEST_SET", "x")
	os.Unsetenv("SYNCD_TEST_UNSET")
	missing := filepath.Join(t.TempDir(), "no-such-secret")
	cases := []struct{ name, entry, want string }{
		{"imap unknown key", "name: m\ntype: imap\naddress: h:993\nusername: u\npasswrd_env: SYNCD_TEST_SET",
			"x.yaml:9: jobs[0].sources[0].passwrd_env: unknown key"},
		{"imap wrong type", "name: m\ntype: imap\naddress: h:993\nusername: u\npassword_env: SYNCD_TEST_SET\nconnections: four",
			"x.yaml:10: jobs[0].sources[0].connections: cannot unmarshal !!str `four` into int"},
		{"imap unset variable", "name: m\ntype: imap\naddress: h:993\nusername: u\npassword_env: SYNCD_TEST_UNSET",
			"x.yaml:9: jobs[0].sources[0].password_env: environment variable SYNCD_TEST_UNSET is not set"},
		{"imap no password", "name: m\ntype: imap\naddress: h:993\nusername: u",
			"x.yaml:5: jobs[0].sources[0].password_env: password is required"},
		{"imap unreadable token file", "name: m\ntype: imap\naddress: h:993\nusername: u\noauth2_token_file: " + missing,
			"x.yaml:9: jobs[0].sources[0].oauth2_token_file: cannot read " + missing},
		{"imap bad value", "name: m\ntype: imap\naddress: nohostport\nusername: u\npassword_env: SYNCD_TEST_SET",
			"x.yaml:5: jobs[0].sources[0]: address \"nohostport\""},
		{"share unset variable", "name: s\ntype: share\nremote: \":smb,host=h:S\"\npassword_env: SYNCD_TEST_UNSET",
			"x.yaml:8: jobs[0].sources[0].password_env: environment variable SYNCD_TEST_UNSET is not set"},
		{"share unreadable password file", "name: s\ntype: share\nremote: \":smb,host=h:S\"\npassword_file: " + missing,
			"x.yaml:8: jobs[0].sources[0].password_file: cannot read " + missing},
		{"share two secrets", "name: s\ntype: share\nremote: \":smb,host=h:S\"\npassword_env: SYNCD_TEST_SET\npassword_file: " + missing,
			"x.yaml:9: jobs[0].sources[0].password_file: set only one of password_env, password_file"},
		{"share unknown key", "name: s\ntype: share\nremot: /tmp",
			"x.yaml:7: jobs[0].sources[0].remot: unknown key"},
		{"share wrong type", "name: s\ntype: share\nremote: /tmp\ntransfers: [1]",
			"jobs[0].sources[0].transfers: cannot unmarshal !!seq into int"},
		{"share bad value", "name: s\ntype: share\nremote: /tmp\nremote_hashes: often",
			"x.yaml:5: jobs[0].sources[0]: remote_hashes: \"often\" is not one of auto, always, never"},
		{"folder without path", "name: f\ntype: folder",
			"x.yaml:5: jobs[0].sources[0].path: required"},
		{"sharepoint unset variable", "name: p\ntype: sharepoint\nsite: \"c.sharepoint.com:/sites/f\"\ntenant_id: t\nclient_id: c\nclient_secret_env: SYNCD_TEST_UNSET",
			"x.yaml:10: jobs[0].sources[0].client_secret_env: environment variable SYNCD_TEST_UNSET is not set"},
		{"sharepoint unreadable certificate", "name: p\ntype: sharepoint\nsite: \"c.sharepoint.com:/sites/f\"\ntenant_id: t\nclient_id: c\nclient_certificate_file: " + missing,
			"x.yaml:10: jobs[0].sources[0].client_certificate_file: cannot read " + missing},
		{"sharepoint wrong type", "name: p\ntype: sharepoint\nsite: \"c.sharepoint.com:/sites/f\"\naccess_token_env: SYNCD_TEST_SET\nmax_versions: many",
			"x.yaml:9: jobs[0].sources[0].max_versions: cannot unmarshal !!str `many` into int"},
		{"sharepoint no credentials", "name: p\ntype: sharepoint\nsite: \"c.sharepoint.com:/sites/f\"",
			"x.yaml:5: jobs[0].sources[0]: no credentials"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := engine.ParseConfig("x.yaml", []byte(sourceConfig(c.entry)))
			if err == nil {
				err = cfg.CheckSources() // what sync, plan and run add
			}
			var ye *yamlx.Error
			if !errors.As(err, &ye) {
				t.Fatalf("err=%v (%T), want a *yamlx.Error", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err=%q, want it to contain %q", err, c.want)
			}
		})
	}
	// And the same entries, corrected, load.
	for _, entry := range []string{
		"name: m\ntype: imap\naddress: h:993\nusername: u\npassword_env: SYNCD_TEST_SET",
		"name: s\ntype: share\nremote: \":smb,host=h:S\"\npassword_env: SYNCD_TEST_SET",
		"name: f\ntype: folder\npath: /tmp",
		"name: p\ntype: sharepoint\nsite: \"c.sharepoint.com:/sites/f\"\ntenant_id: t\nclient_id: c\nclient_secret_env: SYNCD_TEST_SET",
	} {
		if cfg, err := engine.ParseConfig("x.yaml", []byte(sourceConfig(entry))); err != nil || cfg.CheckSources() != nil {
			t.Errorf("valid entry %q: %v", entry, err)
		}
	}
}

// TestSyncConfigErrorExits2: `syncd sync` with a source whose password
// variable is unset exits 2 before running anything, naming the file, line,
// key and variable (not the server's dial error, and no run is recorded).
func TestSyncConfigErrorExits2(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syncd.yaml")
	text := sourceConfig("name: m\ntype: imap\naddress: 127.0.0.1:1\ntls: none\nusername: u\npassword_env: SYNCD_TEST_UNSET_PASSWORD")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("SYNCD_TEST_UNSET_PASSWORD")
	for _, c := range []struct{ text, want string }{
		{text, cfg + ":10: jobs[0].sources[0].password_env: environment variable SYNCD_TEST_UNSET_PASSWORD is not set"},
		{strings.Replace(text, "type: imap", "type: imapp", 1), cfg + ":6: jobs[0].sources[0].type: unknown source type \"imapp\""},
	} {
		if err := os.WriteFile(cfg, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := runSyncd(t, "sync", "--config", cfg)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("exit %d, output:\n%s\nwant exit 2 and %q", code, out, c.want)
		}
		if strings.Contains(out, "dial") || strings.Contains(out, "127.0.0.1:1") {
			t.Errorf("a config error reported as a connection error:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(dir, "s")); !os.IsNotExist(err) {
			t.Errorf("the store was created for a config that does not load (stat: %v)", err)
		}
	}
}

// Commands that open no source (runs, export, verify, history) do not need
// the sources' secrets: `make eval` exports with the IMAP password unset.
func TestReadCommandsNeedNoSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syncd.yaml")
	text := sourceConfig("name: m\ntype: imap\naddress: 127.0.0.1:1\ntls: none\nusername: u\npassword_env: SYNCD_TEST_UNSET_PASSWORD")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("SYNCD_TEST_UNSET_PASSWORD")
	if out, code := runSyncd(t, "runs", "--config", cfg); code != 0 || !strings.Contains(out, "no runs yet") {
		t.Fatalf("runs without the password: exit %d\n%s", code, out)
	}
	if out, code := runSyncd(t, "sync", "--config", cfg); code != 2 || !strings.Contains(out, "SYNCD_TEST_UNSET_PASSWORD is not set") {
		t.Fatalf("sync without the password: exit %d\n%s", code, out)
	}
}
