package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/syncd/syncd/connectors/share/sharetest"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/internal/pgtest"
	"github.com/syncd/syncd/workspace"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// clusterStore gives t a PostgreSQL database and an S3 server (their
// secrets in SYNCD_TEST_PG_DSN and SYNCD_TEST_S3_SECRET) and returns the
// DSN, the server and the store: lines that put a config's catalog and
// blobs there.
func clusterStore(t *testing.T) (dsn string, s3 *sharetest.S3, lines string) {
	t.Helper()
	dsn = pgtest.DSN(t)
	t.Setenv("SYNCD_TEST_PG_DSN", dsn)
	s3 = sharetest.StartS3(t)
	t.Setenv("SYNCD_TEST_S3_SECRET", s3.Secret)
	lines = "  catalog:\n    postgres: {dsn_env: SYNCD_TEST_PG_DSN}\n" +
		"  blobs:\n    remote: \":s3:syncd/blobs\"\n" +
		"    options: {provider: Other, endpoint: \"" + s3.Endpoint + "\", access_key_id: " + s3.KeyID + ", force_path_style: \"true\"}\n" +
		"    password_env: SYNCD_TEST_S3_SECRET\n"
	return dsn, s3, lines
}

// syncAndExport syncs the embedded store of config cfg, exports its tree
// to tree and returns its catalog content (storeContent).
func syncAndExport(t *testing.T, cfg, store, tree string) []string {
	t.Helper()
	if out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	if out, code := runSyncd(t, "export", "--config", cfg, "--format", "tree", "--to", tree); code != exitOK {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	return storeContent(t, store)
}

// sameExport reports how the tree export got (exportContents) differs from
// want; gotName and wantName say where each came from.
func sameExport(t *testing.T, got, want map[string]string, gotName, wantName string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("export %s: %d files, %s: %d", gotName, len(got), wantName, len(want))
	}
	for p, sum := range want {
		if got[p] != sum {
			t.Errorf("%s: %q %s, %q %s", p, got[p], gotName, sum, wantName)
		}
	}
}

// rewriteConfig writes to dst the config file src with the store lines
// added to its store section and each replacement (old, new, ...) made.
func rewriteConfig(t *testing.T, src, dst, lines string, replace ...string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "\njobs:\n", "\n"+lines+"jobs:\n", 1)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("no %q in the config:\n%s", replace[i], text)
		}
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	if text == string(b) || !strings.Contains(text, lines) {
		t.Fatalf("no jobs: line in the config:\n%s", b)
	}
	if err := os.WriteFile(dst, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The cluster store: the catalog on PostgreSQL, the blobs on an S3 server.
// The demo job (IMAP, SharePoint, a share) synced into it gives the same
// catalog content and the same export as the embedded store, a second
// sync and a plan find nothing new, verify is clean, report and runs
// read it, and the DSN's password appears in no output.
func TestClusterStore(t *testing.T) {
	corpus := testCorpus(t, 200)
	dsn, _, lines := clusterStore(t)
	password := regexp.MustCompile(`://[^:]+:([^@]+)@`).FindStringSubmatch(dsn)[1]

	syncExport := func(cluster bool) (cfg string, tree map[string]string, content []string) {
		dir := t.TempDir()
		store := filepath.Join(dir, "store")
		cfg = writeTestConfig(t, corpus, store)
		if cluster {
			rewriteConfig(t, cfg, cfg, lines)
		}
		var outs []string
		step := func(want int, args ...string) string {
			t.Helper()
			out, code := runSyncd(t, append(args, "--config", cfg)...)
			if code != want {
				t.Fatalf("%s: exit %d, want %d\n%s", args[0], code, want, out)
			}
			outs = append(outs, out)
			return out
		}
		step(exitOK, "sync", "--log-level", "error")
		if out := step(exitOK, "sync", "--log-level", "error"); !strings.Contains(out, "0 new") && cluster {
			t.Logf("second sync:\n%s", out)
		}
		if out := step(exitOK, "plan", "--log-level", "error"); !strings.Contains(out, "new") {
			t.Errorf("plan printed no table:\n%s", out)
		}
		to := filepath.Join(dir, "export")
		step(exitOK, "export", "--format", "tree", "--to", to)
		if out := step(exitOK, "verify"); !strings.Contains(out, "store is consistent") {
			t.Errorf("verify:\n%s", out)
		}
		step(exitOK, "runs")
		step(exitOK, "report", "--format", "json")
		if cluster {
			for _, out := range outs {
				if strings.Contains(out, password) {
					t.Errorf("an output shows the catalog's password:\n%s", out)
				}
			}
			if exists(filepath.Join(store, "catalog.db")) || exists(filepath.Join(store, "blobs")) {
				t.Error("the cluster store wrote a catalog or blobs under store.path")
			}
			cat, err := workspace.OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			return cfg, exportContents(t, to), catalogContent(t, cat)
		}
		return cfg, exportContents(t, to), storeContent(t, store)
	}
	_, wantTree, wantContent := syncExport(false)
	cfg, gotTree, gotContent := syncExport(true)
	if len(wantTree) < 200 || len(wantContent) < 200 {
		t.Fatalf("the embedded store's export has %d files, its catalog %d lines", len(wantTree), len(wantContent))
	}
	if strings.Join(gotContent, "\n") != strings.Join(wantContent, "\n") {
		t.Errorf("the cluster catalog differs from the embedded one:\n%s", diffLines(wantContent, gotContent))
	}
	sameExport(t, gotTree, wantTree, "from the cluster store", "from the embedded one")

	// A wrong password: a clear error that does not show it.
	t.Setenv("SYNCD_TEST_PG_DSN", strings.Replace(dsn, password, "not-"+password, 1))
	out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error")
	if code == exitOK || !strings.Contains(out, "store.catalog.postgres") || strings.Contains(out, password) {
		t.Errorf("sync with a wrong catalog password: exit %d\n%s", code, out)
	}
}

// syncd store copy moves an embedded store into a cluster store
// (PostgreSQL and S3). Killed while copying blobs, then while copying the
// catalog, it resumes: the third run skips the blobs already there and
// ends verified, and the cluster store then holds the embedded store's
// catalog content, exports the same tree and takes further syncs.
func TestStoreCopyResumes(t *testing.T) {
	corpus := testCorpus(t, 100)
	dir := t.TempDir()
	embedded := filepath.Join(dir, "embedded")
	cfg := writeTestConfig(t, corpus, embedded)
	wantTree := filepath.Join(dir, "want")
	want := syncAndExport(t, cfg, embedded, wantTree)

	dsn, _, lines := clusterStore(t)
	clusterCfg := filepath.Join(dir, "cluster.yaml")
	rewriteConfig(t, cfg, clusterCfg, lines, embedded, filepath.Join(dir, "cluster-spool"))

	// copyUntil runs the copy, SIGKILLing it at the first log line for
	// which stop says so; it reports whether the kill happened.
	copyUntil := func(stop func(msg string, n int) bool) (killed bool, out string) {
		cmd := exec.Command(syncdBinary(t), "store", "copy", "--from", embedded, "--to", clusterCfg, "--log-format", "json", "--log-level", "debug")
		var stdout strings.Builder
		cmd.Stdout = &stdout
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		n := 0
		var errText strings.Builder
		for sc.Scan() {
			errText.WriteString(sc.Text() + "\n")
			var line struct{ Msg string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if line.Msg == "blob copied" {
				n++
			}
			if stop != nil && stop(line.Msg, n) {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return true, stdout.String()
			}
			t.Fatalf("store copy: %v\n%s%s", err, stdout.String(), errText.String())
		} else if err != nil {
			t.Fatal(err)
		}
		return false, stdout.String()
	}
	if killed, out := copyUntil(func(msg string, n int) bool { return n == 20 }); !killed {
		t.Fatalf("the copy ended before its 20th blob:\n%s", out)
	}
	if killed, out := copyUntil(func(msg string, _ int) bool { return msg == "copying the catalog" }); !killed {
		t.Fatalf("the copy ended before copying the catalog:\n%s", out)
	}
	killed, out := copyUntil(nil)
	if killed || !strings.Contains(out, "copy verified") || !strings.Contains(out, "catalog: copied") ||
		!regexp.MustCompile(`blobs: \d+ copied \([^)]*\), ([2-9]\d|\d{3,}) already there`).MatchString(out) {
		t.Fatalf("the resumed copy:\n%s", out)
	}
	// Once more: nothing to do, and the catalog is not copied twice.
	if killed, out := copyUntil(nil); killed || !strings.Contains(out, "blobs: 0 copied") || !strings.Contains(out, "catalog: already copied") {
		t.Fatalf("a copy run again:\n%s", out)
	}

	cat, err := workspace.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	got := catalogContent(t, cat)
	cat.Close()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the copied catalog differs:\n%s", diffLines(want, got))
	}
	gotTree := filepath.Join(dir, "got")
	if out, code := runSyncd(t, "export", "--config", clusterCfg, "--format", "tree", "--to", gotTree); code != exitOK {
		t.Fatalf("export of the copy: exit %d\n%s", code, out)
	}
	wt, gt := exportContents(t, wantTree), exportContents(t, gotTree)
	if len(wt) < 100 {
		t.Errorf("the source exports %d files", len(wt))
	}
	sameExport(t, gt, wt, "from the copy", "from the source")
	// The copy goes on: a sync into it finds everything known.
	if out, code := runSyncd(t, "sync", "--config", clusterCfg, "--log-level", "error"); code != exitOK || !regexp.MustCompile(`\(all, run \d+\)\s+\d+\s+\d+\s+0\s`).MatchString(out) {
		t.Fatalf("sync into the copy: exit %d\n%s", code, out)
	}
	// Into a store that has data of its own: refused.
	if out, code := runSyncd(t, "store", "copy", "--from", embedded, "--to", cfg); code != exitUsage {
		t.Errorf("copy of a store onto itself: exit %d\n%s", code, out)
	}
}

// store.catalog is checked when the config loads: postgres is required,
// with exactly one DSN reference; an unset variable is an error naming it
// when the store opens.
func TestStoreCatalogConfig(t *testing.T) {
	write := func(store string) string {
		p := filepath.Join(t.TempDir(), "x.yaml")
		text := "store:\n  path: ./s\n" + store + "jobs:\n  - name: j\n    sources:\n      - {name: f, type: folder, path: /tmp}\n"
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ store, want string }{
		{"  catalog: {}\n", "store.catalog.postgres: required"},
		{"  catalog: {postgres: {}}\n", "store.catalog.postgres: set exactly one of dsn_env, dsn_file, dsn_command"},
		{"  catalog: {postgres: {dsn_env: A, dsn_file: /b}}\n", "set exactly one of dsn_env"},
		{"  catalog: {postgres: {dsn: postgres://u:secret@h/db}}\n", "dsn: unknown key"},
	} {
		_, err := engine.LoadConfig(write(tc.store))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.store, err, tc.want)
		}
	}
	os.Unsetenv("SYNCD_TEST_NO_DSN")
	cfg := write("  catalog: {postgres: {dsn_env: SYNCD_TEST_NO_DSN}}\n")
	out, code := runSyncd(t, "sync", "--config", cfg)
	if code == exitOK || !strings.Contains(out, "store.catalog.postgres") || !strings.Contains(out, "SYNCD_TEST_NO_DSN") {
		t.Errorf("sync with an unset DSN variable: exit %d\n%s", code, out)
	}
}
