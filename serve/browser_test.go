package serve

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/report/headless"
)

// browser is a Chromium tab for one test (closed when it ends), with the
// context that bounds its steps.
type browser struct {
	*headless.Session
	t   *testing.T
	ctx context.Context
}

func openBrowser(t *testing.T) (*browser, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s, err := headless.Open(ctx, headless.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &browser{Session: s, t: t, ctx: ctx}, ctx
}

// must fails the test on err.
func (b *browser) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// text is a JavaScript expression's string value in the page.
func (b *browser) text(expr string) string {
	b.t.Helper()
	var s string
	b.must(b.Eval(b.ctx, expr, &s))
	return s
}

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

// TestBrowserWalkthrough drives the interface in real Chromium as a
// person would: sign in (an API token, sent by the browser), browse
// workspace and folders to a document, download its current version,
// search, drop a file on "is this the current version?" and read the
// answer, everyone signed in through the OpenID Connect provider; a
// curator splits a version off; the audit log then holds each step.
// Someone without the role is refused the same pages and the download
// URL. No page runs a script, breaks the CSP or logs an error.
func TestBrowserWalkthrough(t *testing.T) {
	needBrowser(t)
	f := newFixture(t, fixDocs)
	p := newTestProvider(t)
	base, _ := oidcServer(t, f, p)
	srv := struct{ URL string }{base}
	b, ctx := openBrowser(t)
	must, text := b.must, b.text
	// vera is in the group that views finance; the browser is sent
	// through the provider and back.
	p.signInAs("vera", "g-finance")
	must(b.Navigate(ctx, srv.URL+"/"))
	if got := text(`location.pathname + " " + document.querySelector(".who strong").textContent`); got != "/ vera" {
		t.Fatalf("signed in: %q", got)
	}
	must(b.ClickAndWait(ctx, `a[href="/w/finance"]`))
	must(b.ClickAndWait(ctx, `a[href="/w/finance/f/Budgets"]`))
	must(b.ClickAndWait(ctx, `a[href="/w/finance/f/Budgets/2026"]`))
	must(b.ClickAndWait(ctx, `a[href="/d/d-budget"]`))
	if got := text(`document.querySelector("h1").textContent`); got != "Budget 2026.xlsx" {
		t.Fatalf("document page heading %q", got)
	}
	if got := text(`document.querySelector("#current").parentElement.querySelector("strong").textContent`); got != "version 3" {
		t.Errorf("current version shown as %q", got)
	}
	var circles int
	must(b.Eval(ctx, `document.querySelectorAll("svg.dag circle").length`, &circles))
	if circles != 3 {
		t.Errorf("the graph has %d versions, want 3", circles)
	}
	file, err := b.Download(ctx, `a.button[href="/d/d-budget/v/v3/download"]`)
	must(err)
	if got, err := os.ReadFile(file); err != nil || string(got) != "budget final" {
		t.Errorf("downloaded %q (%v), want the current version's bytes", got, err)
	}
	// Search from the form.
	must(b.Navigate(ctx, srv.URL+"/search"))
	must(b.Eval(ctx, `document.querySelector("#q").value = "plan"`, nil))
	must(b.ClickAndWait(ctx, `form[role=search] button`))
	if got := text(`Array.from(document.querySelectorAll("main table a")).map(a => a.textContent).join("|")`); got != "Plan.docx" {
		t.Errorf("search for plan found %q", got)
	}
	// Drop a file someone was sent: an old version.
	old := filepath.Join(t.TempDir(), "Budget 2026 FINAL (1).xlsx")
	must(os.WriteFile(old, []byte("budget draft one"), 0o644))
	must(b.Navigate(ctx, srv.URL+"/check"))
	must(b.SetFiles(ctx, "#file", old))
	must(b.ClickAndWait(ctx, `form[action="/check"] button`))
	if got := text(`document.querySelector("#verdict").textContent`); !strings.Contains(got, "version 1 of Budget 2026.xlsx, and it is not the current version") || !strings.Contains(got, "The current version is version 3") {
		t.Errorf("check answered %q", got)
	}
	// Hostile names are text, and no page has a script.
	must(b.Navigate(ctx, srv.URL+"/d/d-hostile"))
	if got := text(`document.querySelector("h1").textContent`); got != hostileName {
		t.Errorf("hostile heading %q", got)
	}
	var scripts int
	must(b.Eval(ctx, `document.scripts.length + document.querySelectorAll("img, iframe, object, embed").length`, &scripts))
	if scripts != 0 {
		t.Errorf("the hostile document's page has %d scripts or embedded objects", scripts)
	}
	// A curator splits a version off through the document page's form.
	var corrected []string
	f.srv.Correct = func(_ context.Context, kind string, blobs []dedupe.ID, actor, note string) error {
		corrected = append(corrected, kind+" "+blobs[0].String()+" "+actor+" "+note)
		return nil
	}
	must(b.ClickAndWait(ctx, `form[action="/auth/logout"] button`))
	p.signInAs("alice") // a curator of finance
	must(b.Navigate(ctx, srv.URL+"/d/d-plan"))
	must(b.Eval(ctx, `document.querySelector("#split-p3").checked = true; document.querySelector("#split-note").value = "carol's copy"`, nil))
	must(b.ClickAndWait(ctx, `input[name=kind][value=split] ~ p button`))
	if want := "split " + f.blobID(t, "plan two by carol") + " alice carol's copy"; len(corrected) != 1 || corrected[0] != want {
		t.Errorf("the split form sent %q, want %q", corrected, want)
	}
	if got := text(`location.pathname`); got != "/d/d-plan" {
		t.Errorf("after the split the browser is at %q", got)
	}
	// Another workspace's person: refused the page and the download URL.
	must(b.ClickAndWait(ctx, `form[action="/auth/logout"] button`))
	p.signInAs("bob", "g-legal")
	for _, u := range []string{"/d/d-budget", "/d/d-budget/v/v3/download", "/w/finance"} {
		must(b.Navigate(ctx, srv.URL+u))
		if got := text(`document.querySelector("h1").textContent`); got != "Not Found" {
			t.Errorf("legal opened %s: heading %q", u, got)
		}
	}
	res := b.Result()
	if len(res.Console) > 0 || len(res.Exceptions) > 0 {
		t.Errorf("console %q, exceptions %q", res.Console, res.Exceptions)
	}
	for _, l := range res.Logs {
		// 404s of the refused pages are logged by the browser as failed
		// loads; anything else (a CSP violation) is a failure.
		if !strings.Contains(l, "404") {
			t.Errorf("browser log: %s", l)
		}
	}
	var steps []string
	for _, a := range f.audits(t) {
		steps = append(steps, a.Actor+" "+a.Action+" "+a.Subject)
	}
	want := []string{"vera serve.signin vera", "vera serve.view d-budget", "vera serve.download d-budget v3", "vera serve.search ",
		"vera serve.check " + f.blobID(t, "budget draft one"), "vera serve.view d-hostile",
		"alice serve.signin alice", "alice serve.view d-plan", "alice serve.correct d-plan", "alice serve.view d-plan", "bob serve.signin bob"}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
}

// TestBrowserSignIn: Chromium opens a document's link, is sent through
// the OpenID Connect provider and back to the document, signed in; the
// session cookie is out of the page's reach (HttpOnly); signing out and
// in as someone without the workspace's role is refused the document.
func TestBrowserSignIn(t *testing.T) {
	needBrowser(t)
	f := newFixture(t, fixDocs)
	p := newTestProvider(t)
	base, _ := oidcServer(t, f, p)
	b, ctx := openBrowser(t)
	text := b.text
	p.signInAs("alice")
	if err := b.Navigate(ctx, base+"/d/d-budget/v/v2"); err != nil {
		t.Fatal(err)
	}
	if got := text(`location.pathname + " " + document.querySelector(".who strong").textContent + " " + document.querySelector("h1").textContent`); got != "/d/d-budget/v/v2 alice Budget 2026.xlsx" {
		t.Fatalf("after sign-in: %q", got)
	}
	if got := text(`document.cookie`); got != "" {
		t.Errorf("the page can read cookies: %q", got)
	}
	if err := b.ClickAndWait(ctx, `form[action="/auth/logout"] button`); err != nil {
		t.Fatal(err)
	}
	if got := text(`location.pathname`); got != "/signed-out" {
		t.Errorf("after sign-out at %q", got)
	}
	p.signInAs("bob", "g-legal")
	if err := b.Navigate(ctx, base+"/d/d-budget"); err != nil {
		t.Fatal(err)
	}
	if got := text(`document.querySelector("h1").textContent + " " + document.querySelector(".who strong").textContent`); got != "Not Found bob" {
		t.Errorf("bob at finance's document: %q", got)
	}
	for _, l := range b.Result().Logs {
		if !strings.Contains(l, "404") {
			t.Errorf("browser log: %s", l)
		}
	}
}

// a11yCheck is run in each page: what a screen reader or a keyboard
// needs. It returns the problems found.
const a11yCheck = `(() => {
  const out = [];
  if (!document.documentElement.lang) out.push("no lang");
  if (document.querySelectorAll("h1").length !== 1) out.push(document.querySelectorAll("h1").length + " h1");
  if (!document.title) out.push("no title");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const named = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.closest("label") || el.getAttribute("aria-label");
    if (!named) out.push("unlabelled " + el.outerHTML.slice(0, 60));
  }
  for (const a of document.querySelectorAll("a, button")) {
    if (!(a.textContent.trim() || a.getAttribute("aria-label") || a.querySelector("title"))) out.push("nameless " + a.outerHTML.slice(0, 60));
  }
  for (const t of document.querySelectorAll("table")) {
    if (!t.querySelector("th[scope]")) out.push("table without header cells");
  }
  for (const s of document.querySelectorAll("svg")) {
    if (!s.getAttribute("role") || !s.querySelector("title")) out.push("svg without role or title");
  }
  // Text contrast against white (the pages' background): WCAG AA 4.5:1.
  const lum = c => { const v = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  for (const el of document.querySelectorAll("main p, main td, main a, main label, main th, header a")) {
    const st = getComputedStyle(el);
    let bg = st.backgroundColor, p = el;
    while ((bg === "rgba(0, 0, 0, 0)" || bg === "transparent") && p.parentElement) { p = p.parentElement; bg = getComputedStyle(p).backgroundColor; }
    if (bg === "rgba(0, 0, 0, 0)") bg = "rgb(255, 255, 255)";
    const a = lum(st.color), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push("contrast " + ratio.toFixed(2) + " " + el.outerHTML.slice(0, 60));
  }
  return out.slice(0, 10);
})()`

// TestBrowserAccessibility: every page has a language, a title and one
// h1, labelled fields, named links and buttons, header cells, described
// graphs and AA text contrast; every control is reachable by Tab.
func TestBrowserAccessibility(t *testing.T) {
	needBrowser(t)
	f := newFixture(t, fixDocs)
	srv := httptest.NewServer(f.srv.Handler())
	defer srv.Close()
	f.srv.Listen = srv.Listener.Addr().String()
	b, ctx := openBrowser(t)
	if err := b.SetHeaders(ctx, map[string]string{"Authorization": "Bearer " + curatorToken}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/w/finance", "/w/finance/f/Budgets", "/d/d-budget", "/d/d-plan/v/p2", "/search?q=plan",
		"/check", "/d/d-notes/compare?a=n1&b=n2", "/w/finance/audit", "/d/nope"} {
		if err := b.Navigate(ctx, srv.URL+p); err != nil {
			t.Fatal(err)
		}
		var problems []string
		if err := b.Eval(ctx, a11yCheck, &problems); err != nil {
			t.Fatal(err)
		}
		for _, pr := range problems {
			t.Errorf("%s: %s", p, pr)
		}
	}
	// Keyboard: every link, button and field of the document page takes
	// focus (none is taken out of the tab order).
	if err := b.Navigate(ctx, srv.URL+"/d/d-budget"); err != nil {
		t.Fatal(err)
	}
	var untabbable int
	if err := b.Eval(ctx, `Array.from(document.querySelectorAll("a[href], button, input:not([type=hidden]), select")).filter(e => e.tabIndex < 0).length`, &untabbable); err != nil {
		t.Fatal(err)
	}
	if untabbable != 0 {
		t.Errorf("%d controls of the document page cannot be reached by Tab", untabbable)
	}
}
