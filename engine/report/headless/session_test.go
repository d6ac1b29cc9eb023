package headless_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/engine/report/headless"
)

// needBrowser skips without Chromium, except under CI where it fails.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := headless.Browser(); errors.Is(err, headless.ErrNoBrowser) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// app is a tiny web application: / links to /b, /b has an upload form
// posting to /upload, whose answer shows the file's length and SHA-256 and
// links to /dl, an attachment; /echo shows the Authorization header.
func app(t *testing.T, payload []byte) *httptest.Server {
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><title>%s</title>%s", title, body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "A", `<a id=next href="/b">to B</a>`)
	})
	mux.HandleFunc("GET /b", func(w http.ResponseWriter, r *http.Request) {
		page(w, "B", `<form method=post enctype=multipart/form-data action="/upload">
<input type=file name=file id=file><button id=send type=submit>send</button></form>`)
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		page(w, "uploaded", fmt.Sprintf(`<p id=len>%d</p><p id=sum>%x</p><a id=dl href="/dl">download</a>`, n, h.Sum(nil)))
	})
	mux.HandleFunc("GET /dl", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="x.bin"`)
		w.Write(payload)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		page(w, "echo", `<pre id=auth>`+html.EscapeString(r.Header.Get("Authorization"))+`</pre>`)
	})
	mux.HandleFunc("GET /csp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		page(w, "csp", `<script>document.title = "ran"</script>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func open(t *testing.T, ctx context.Context) *headless.Session {
	t.Helper()
	s, err := headless.Open(ctx, headless.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dir := s.DownloadDir()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("download dir %s left behind after Close: %v", dir, err)
		}
	})
	return s
}

func eval[T any](t *testing.T, ctx context.Context, s *headless.Session, expr string) T {
	t.Helper()
	var v T
	if err := s.Eval(ctx, expr, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSession(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	payload := make([]byte, 200_000)
	rand.Read(payload)
	srv := app(t, payload)
	s := open(t, ctx)

	if err := s.Navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, ctx, s, "document.title"); got != "A" {
		t.Fatalf("title after Navigate = %q, want A", got)
	}

	if err := s.ClickAndWait(ctx, "#next"); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, ctx, s, "location.pathname + ' ' + document.readyState"); got != "/b complete" {
		t.Fatalf("after clicking the link: %q, want %q", got, "/b complete")
	}

	upload := filepath.Join(t.TempDir(), "up.txt")
	content := bytes.Repeat([]byte("syncd upload\n"), 1000)
	if err := os.WriteFile(upload, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFiles(ctx, "#file", upload); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, ctx, s, "document.querySelector('#file').files[0].name"); got != "up.txt" {
		t.Fatalf("file input holds %q, want up.txt", got)
	}
	if err := s.ClickAndWait(ctx, "#send"); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(content)
	if got := eval[string](t, ctx, s, "document.querySelector('#sum').textContent"); got != hex.EncodeToString(want[:]) {
		t.Fatalf("#sum = %q, want %x", got, want)
	}
	if got := eval[string](t, ctx, s, "document.querySelector('#len').textContent"); got != fmt.Sprint(len(content)) {
		t.Fatalf("#len = %q, want %d", got, len(content))
	}

	path, err := s.Download(ctx, "#dl")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != s.DownloadDir() || filepath.Base(path) != "x.bin" {
		t.Errorf("downloaded to %s, want %s", path, filepath.Join(s.DownloadDir(), "x.bin"))
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("downloaded %d bytes (sha256 %x), want %d (sha256 %x)", len(got), sha256.Sum256(got), len(payload), sha256.Sum256(payload))
	}
	// The page is still the upload answer: a download is no navigation.
	if got := eval[string](t, ctx, s, "document.title"); got != "uploaded" {
		t.Errorf("title after the download = %q, want uploaded", got)
	}

	if err := s.Navigate(ctx, srv.URL+"/echo"); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, ctx, s, "document.querySelector('#auth').textContent"); got != "" {
		t.Fatalf("Authorization %q sent before SetHeaders", got)
	}
	if err := s.SetHeaders(ctx, map[string]string{"Authorization": "Bearer t0ken"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Navigate(ctx, srv.URL+"/echo"); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, ctx, s, "document.querySelector('#auth').textContent"); got != "Bearer t0ken" {
		t.Fatalf("echoed Authorization = %q, want %q", got, "Bearer t0ken")
	}

	shot := filepath.Join(t.TempDir(), "shot.png")
	if err := s.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(shot); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot: %v, %d bytes, not a PNG", err, len(b))
	}

	res := s.Result()
	for _, p := range []string{"/", "/b", "/upload", "/dl", "/echo"} {
		found := false
		for _, u := range res.Requests {
			found = found || u == srv.URL+p
		}
		if !found {
			t.Errorf("request for %s not recorded in %v", p, res.Requests)
		}
	}
	if len(res.Console)+len(res.Logs)+len(res.Exceptions) > 0 {
		t.Errorf("console %v, logs %v, exceptions %v: want none", res.Console, res.Logs, res.Exceptions)
	}
}

// TestSessionErrors: the failures a test relies on are reported.
func TestSessionErrors(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := app(t, []byte("x"))
	s := open(t, ctx)
	if err := s.Navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}

	err := s.Eval(ctx, `(() => { throw new Error("kaboom") })()`, nil)
	if err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Errorf("Eval of a throwing expression: %v, want an error with kaboom", err)
	}
	err = s.Eval(ctx, `Promise.reject(new TypeError("rejected!"))`, nil)
	if err == nil || !strings.Contains(err.Error(), "rejected!") {
		t.Errorf("Eval of a rejected promise: %v, want an error with rejected!", err)
	}
	if got := eval[int](t, ctx, s, `new Promise(r => setTimeout(() => r(42), 10))`); got != 42 {
		t.Errorf("awaited promise = %d, want 42", got)
	}
	if err := s.ClickAndWait(ctx, "#nothing"); err == nil || !strings.Contains(err.Error(), "no element") {
		t.Errorf("ClickAndWait on a missing element: %v", err)
	}
	if err := s.SetFiles(ctx, "#nothing", os.Args[0]); err == nil || !strings.Contains(err.Error(), "no element") {
		t.Errorf("SetFiles on a missing element: %v", err)
	}
	if _, err := s.Download(ctx, "#nothing"); err == nil || !strings.Contains(err.Error(), "no element") {
		t.Errorf("Download on a missing element: %v", err)
	}
	// A link that navigates is not a download.
	if _, err := s.Download(ctx, "#next"); err == nil || !strings.Contains(err.Error(), "instead of downloading") {
		t.Errorf("Download of a link to a page: %v", err)
	}

	// A click that does not navigate waits until ctx is done, and says so.
	if err := s.Navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err = s.ClickAndWait(short, "title")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "clicking title") {
		t.Errorf("ClickAndWait with no navigation: %v, want a deadline error naming the step", err)
	}

	if err := s.Navigate(ctx, "http://127.0.0.1:9/"); err == nil {
		t.Error("Navigate to a closed port: no error")
	}

	// CSP violations are recorded as log entries.
	if err := s.Navigate(ctx, srv.URL+"/csp"); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, ctx, s, "document.title"); got != "csp" {
		t.Errorf("title %q: the inline script ran despite the CSP", got)
	}
	logs := s.Result().Logs
	found := false
	for _, l := range logs {
		found = found || strings.Contains(l, "Content Security Policy")
	}
	if !found {
		t.Errorf("logs %v: no CSP violation", logs)
	}
}

// TestSessionBrowserGone: a step fails, rather than hangs, once the
// browser is closed.
func TestSessionBrowserGone(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := headless.Open(ctx, headless.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Navigate(ctx, "about:blank"); err == nil {
		t.Error("Navigate after Close: no error")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
