package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// webGet is do's GET, its body as text.
func webGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	code, b := do(t, http.MethodGet, url, token)
	return code, string(b)
}

// TestServeCommand: `syncd serve` on the demo's store answers the local
// user (the demo's serve.local), shows the richest document, downloads
// its current version byte for byte, audits both, and stops on Ctrl-C.
func TestServeCommand(t *testing.T) {
	cfg := demoStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var errb syncBuf
	go func() {
		code := runMain(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--log-level", "error"}, pw, &errb)
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v\n%s", err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve did not print its URL: %q", line)
	}
	base := "http://" + m[1]
	code, home := webGet(t, base+"/", "")
	if code != 200 || !strings.Contains(home, `href="/w/department"`) {
		t.Fatalf("home: %d\n%s", code, home)
	}
	st, err := openStore(ctx, engine.StoreConfig{Path: filepath.Join(filepath.Dir(cfg), "store")})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := richestDocument(ctx, st)
	st.Close()
	code, page := webGet(t, base+"/d/"+doc.Key, "")
	if code != 200 || !strings.Contains(page, "Current version") {
		t.Fatalf("document page: %d\n%s", code, page)
	}
	dl := regexp.MustCompile(`href="(/d/[^"]+/download)"`).FindStringSubmatch(page)
	if dl == nil {
		t.Fatal("the document page has no download link")
	}
	code, file := webGet(t, base+dl[1], "")
	want := doc.Versions[0]
	for _, v := range doc.Versions {
		if v.Seq > want.Seq {
			want = v
		}
	}
	if code != 200 || fmt.Sprintf("%x", sha256.Sum256([]byte(file))) != want.Blob.String() {
		t.Errorf("download %s: %d, %d bytes, not the current version's content %s", dl[1], code, len(file), want.Blob.Short())
	}
	// A curator (the demo's local role) splits the first version off: the
	// history is rebuilt, the version is a document of its own (keys come
	// from content: it may keep the old key) and the page redirected to
	// shows it alone.
	first := doc.Versions[0]
	for _, v := range doc.Versions {
		if v.Seq < first.Seq {
			first = v
		}
	}
	resp, err := noRedirect.PostForm(base+"/d/"+doc.Key+"/correct", url.Values{"kind": {"split"}, "version": {first.Key}, "note": {"not the same paper"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/d/") {
		t.Fatalf("split: %d, to %q (want the new document)", resp.StatusCode, loc)
	}
	if code, page := webGet(t, base+loc, ""); code != 200 || strings.Count(page, "<circle") != 1 {
		t.Errorf("the split-off document %s: %d, %d versions", loc, code, strings.Count(page, "<circle"))
	}
	cancel()
	if c := <-done; c != exitOK {
		t.Fatalf("serve exit %d after Ctrl-C: %s", c, errb.String())
	}
	cat, err := workspace.Open(context.Background(), filepath.Join(filepath.Dir(cfg), "store", "catalog.db"), workspace.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	log, err := cat.AuditLog(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	// The other versions stay together, in another document.
	refs, err := cat.VersionsOfBlob(context.Background(), want.Blob)
	if err != nil || len(refs) != 1 || "/d/"+refs[0].Document == loc {
		t.Fatalf("the current version's documents: %+v (%v)", refs, err)
	}
	if rest, _, ok, err := cat.DocumentByKey(context.Background(), refs[0].Document); !ok || err != nil || len(rest.Versions) != len(doc.Versions)-1 {
		t.Errorf("the rest of the document: %d versions, want %d (%v)", len(rest.Versions), len(doc.Versions)-1, err)
	}
	var actions []string
	for _, e := range log {
		if e.Actor == "local" {
			actions = append(actions, e.Action+" "+e.Subject)
		}
	}
	if len(actions) != 5 || actions[0] != "serve.view "+strings.TrimPrefix(loc, "/d/") || actions[1] != "history.split 1" || actions[2] != "serve.correct "+doc.Key ||
		actions[3] != "serve.download "+doc.Key+" "+want.Key || actions[4] != "serve.view "+doc.Key {
		t.Errorf("audit rows (newest first): %q", actions)
	}
}

// TestServeConfigErrors: roles and token references are checked when
// the config loads, and a token's secret never shows in an error.
func TestServeConfigErrors(t *testing.T) {
	// The source is an empty folder of the test's own: a sync of /tmp (as
	// this test once did) read whatever the other packages' tests held
	// there at the time, its own stores included, and took 22 minutes
	// in one CI run.
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	base := "store: {path: %q}\njobs: [{name: j, sources: [{name: s, type: folder, path: " + strconv.Quote(empty) + "}]}]\n"
	t.Setenv("SYNCD_TEST_SHORT_TOKEN", "short-secret")
	for _, c := range []struct{ serve, want string }{
		{"serve: {local: owner}", "serve.local"},
		{"serve: {tokens: [{name: a, token_env: X, roles: {w: boss}}]}", "serve.tokens[0].roles.w"},
		{"serve: {tokens: [{name: a, roles: {w: viewer}}]}", "token_env, token_file, token_command"},
		{"serve: {tokens: [{name: a, token_env: X, token_file: /f, roles: {w: viewer}}]}", "exactly one"},
		{"serve: {tokens: [{token_env: X, roles: {w: viewer}}]}", "serve.tokens[0].name"},
		{"serve: {tokens: [{name: a, token_env: X}]}", "serve.tokens[0].roles"},
		{"serve: {tokens: [{name: a, token_env: SYNCD_TEST_UNSET_TOKEN, roles: {w: viewer}}]}", "SYNCD_TEST_UNSET_TOKEN is not set"},
		{"serve: {tokens: [{name: a, token_env: SYNCD_TEST_SHORT_TOKEN, roles: {w: viewer}}]}", "shorter than 16"},
		{"serve: {oidc: {client_id: c, client_secret_env: X, redirect_url: https://s/auth/callback}}", "serve.oidc.issuer"},
		{"serve: {oidc: {issuer: https://i, client_id: c, client_secret_env: X, redirect_url: https://s/}}", "serve.oidc.redirect_url"},
		{"serve: {oidc: {issuer: https://i, client_id: c, redirect_url: https://s/auth/callback}}", "client_secret_env, client_secret_file"},
		{"serve: {oidc: {issuer: https://i, client_id: c, client_secret_env: X, redirect_url: https://s/auth/callback, groups: [{name: g, roles: {w: god}}]}}", "serve.oidc.groups[0].roles.w"},
		{"serve: {oidc: {issuer: https://i, client_id: c, client_secret_env: SYNCD_TEST_UNSET_SECRET, redirect_url: https://s/auth/callback}}", "SYNCD_TEST_UNSET_SECRET is not set"},
		{"serve: {oidc: {issuer: https://i, client_id: c, client_secret_env: SYNCD_TEST_SHORT_TOKEN, session_key_env: SYNCD_TEST_SHORT_TOKEN, redirect_url: https://s/auth/callback}}", "session_key: shorter than 32"},
	} {
		store := filepath.Join(dir, fmt.Sprint(len(c.want)))
		os.MkdirAll(store, 0o755)
		cfg := filepath.Join(dir, "c.yaml")
		writeFile(t, cfg, fmt.Sprintf(base, store)+c.serve+"\n")
		// A store must exist for serve to reach its tokens (a config
		// the loader refuses fails this sync too, and serve the same way).
		run(t, "sync", "--config", cfg, "--log-level", "error")
		out, code := run(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
		if code != exitUsage || !strings.Contains(out, c.want) || strings.Contains(out, "short-secret") {
			t.Errorf("%s: exit %d, want %d and %q:\n%s", c.serve, code, exitUsage, c.want, out)
		}
	}
}

// TestDaemonServesWorkspace: `syncd run` with serve.listen serves the
// web interface beside the status API, with serve.tokens, until it
// stops.
func TestDaemonServesWorkspace(t *testing.T) {
	t.Setenv("SYNCD_TEST_WEB_TOKEN", "web-token-0123456789abcdef")
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.MkdirAll(files, 0o755)
	writeFile(t, filepath.Join(files, "Board paper.txt"), "the quarterly estates rationalisation")
	cfg := filepath.Join(dir, "syncd.yaml")
	writeFile(t, cfg, fmt.Sprintf(`store: {path: %q}
serve:
  listen: 127.0.0.1:0
  tokens: [{name: web-bot, token_env: SYNCD_TEST_WEB_TOKEN, roles: {"*": viewer}}]
jobs:
  - {name: j, workspace: papers, sources: [{name: f, type: folder, path: %q}]}
`, filepath.Join(dir, "store"), files))
	if out, code := run(t, "sync", "--config", cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("sync: %d %s", code, out)
	}
	td := startTestDaemon(t, cfg, nil)
	if td.d.web == nil {
		t.Fatal("the daemon serves no web interface with serve.listen set")
	}
	base := "http://" + td.d.web.ln.Addr().String()
	if code, _ := webGet(t, base+"/", ""); code != http.StatusUnauthorized {
		t.Errorf("anonymous: %d", code)
	}
	code, home := webGet(t, base+"/w/papers", "web-token-0123456789abcdef")
	if code != 200 || !strings.Contains(home, "Board paper.txt") {
		t.Errorf("the workspace as web-bot: %d\n%s", code, home)
	}
	// The sync kept the text: a word only the text holds finds it.
	if code, page := webGet(t, base+"/search?q=Rationalisation", "web-token-0123456789abcdef"); code != 200 || !strings.Contains(page, "Board paper.txt") {
		t.Errorf("search by text: %d\n%s", code, page)
	}
	if err := td.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the web interface still answers after the daemon stopped")
	}
}

// TestHistoryText: content stored before text was kept (its rows gone,
// as in a store from before migration 9) is found by its name only until
// `syncd history text` keeps its text; a second run has nothing to do.
func TestHistoryText(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.MkdirAll(files, 0o755)
	writeFile(t, filepath.Join(files, "Minutes.txt"), "the quarterly estates rationalisation was agreed")
	writeFile(t, filepath.Join(files, "Logo.png"), "\x89PNG\r\n\x1a\nnot text")
	cfg := filepath.Join(dir, "syncd.yaml")
	writeFile(t, cfg, fmt.Sprintf("store: {path: %q}\njobs: [{name: j, workspace: w, sources: [{name: f, type: folder, path: %q}]}]\n", filepath.Join(dir, "store"), files))
	if out, code := run(t, "sync", "--config", cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("sync: %d %s", code, out)
	}
	ctx := context.Background()
	find := func() int {
		cat, err := workspace.Open(ctx, filepath.Join(dir, "store", "catalog.db"), workspace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		hits, err := cat.Search(ctx, workspace.Search{Workspaces: []string{"w"}, Text: "rationalisation", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(hits)
	}
	if n := find(); n != 1 {
		t.Fatalf("after the sync the text finds %d documents, want 1", n)
	}
	cat, err := workspace.Open(ctx, filepath.Join(dir, "store", "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.DB().ExecContext(ctx, `DELETE FROM blob_texts`); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	if n := find(); n != 0 {
		t.Fatalf("without its text the content is found %d times", n)
	}
	out, code := run(t, "history", "text", "--config", cfg, "--log-level", "error")
	if code != exitOK || !strings.Contains(out, "kept the text of 1 contents") {
		t.Fatalf("history text: %d %s", code, out)
	}
	if n := find(); n != 1 {
		t.Errorf("after history text the text finds %d documents, want 1", n)
	}
	if out, _ := run(t, "history", "text", "--config", cfg, "--log-level", "error"); !strings.Contains(out, "kept the text of 0 contents") {
		t.Errorf("a second run: %s", out)
	}
}
