package serve

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
)

func mustCode(t *testing.T, got, want int, what string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d", what, got, want)
	}
}

// TestRolesRefuseEverywhere: a token sees its workspaces only, in every
// page, link and download; no credentials or a wrong token get 401; the
// anonymous local role needs a loopback listener and a loopback client.
func TestRolesRefuseEverywhere(t *testing.T) {
	f := newFixture(t, fixDocs)
	home := f.get(t, "/", financeToken)
	mustCode(t, home.Code, 200, "home as finance")
	if b := home.Body.String(); !strings.Contains(b, `href="/w/finance"`) || strings.Contains(b, "legal") {
		t.Errorf("finance's home should list finance only:\n%s", b)
	}
	for _, p := range []string{"/d/d-contract", "/d/d-contract/v/c1", "/d/d-contract/v/c1/download", "/w/legal"} {
		w := f.get(t, p, financeToken)
		mustCode(t, w.Code, http.StatusNotFound, "finance GET "+p)
		if strings.Contains(w.Body.String(), "Contract") || strings.Contains(w.Body.String(), "contract text") {
			t.Errorf("%s leaks the document to finance", p)
		}
		mustCode(t, f.get(t, p, legalToken).Code, 200, "legal GET "+p)
	}
	// Search and check answer only from visible workspaces.
	if b := f.get(t, "/search?q=contract", financeToken).Body.String(); strings.Contains(b, "d-contract") {
		t.Error("search shows finance a legal document")
	}
	if b := f.get(t, "/search?q=contract", legalToken).Body.String(); !strings.Contains(b, "/d/d-contract") {
		t.Error("search does not find legal's contract for legal")
	}
	form, ct := upload(t, "c.pdf", "contract text")
	if b := f.do(t, request{method: "POST", path: "/check", token: financeToken, body: form, contentType: ct}).Body.String(); strings.Contains(b, "d-contract") || !strings.Contains(b, "Not found") {
		t.Errorf("check tells finance about legal's document:\n%s", b)
	}
	// No credentials from another machine, a wrong token, a bad scheme.
	for _, r := range []request{
		{path: "/", remote: "192.0.2.7:4000"},
		{path: "/d/d-budget", token: "wrong-token-0123456789"},
		{path: "/d/d-budget/v/v1/download", header: map[string]string{"Authorization": "Basic YWxpY2U6cHc="}}, // alice:pw
		{path: "/d/d-budget/v/v1/download", header: map[string]string{"Authorization": "Digest username=x"}},
	} {
		w := f.do(t, r)
		mustCode(t, w.Code, http.StatusUnauthorized, r.path+" without valid credentials")
		if strings.Contains(w.Body.String(), "Budget") {
			t.Errorf("%s: a refusal shows the document", r.path)
		}
	}
	// Basic, as WebDAV clients send it: the token is the password.
	basic := f.do(t, request{path: "/d/d-budget", header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:"+financeToken))}})
	mustCode(t, basic.Code, 200, "basic auth with the token as password")
	// The local role: a loopback client of a loopback server.
	mustCode(t, f.get(t, "/d/d-contract", "").Code, 200, "local viewer")
	f.srv.Auth = NewAuth(nil, Viewer, false)
	mustCode(t, f.get(t, "/d/d-contract", "").Code, http.StatusUnauthorized, "local role on a server listening beyond loopback")
}

// TestDownloadIsAnAuditedAttachment: the bytes are the version's, served
// as an attachment that is never sniffed or rendered, under a safe file
// name; the audit log names who, what and from where.
func TestDownloadIsAnAuditedAttachment(t *testing.T) {
	f := newFixture(t, fixDocs)
	w := f.do(t, request{path: "/d/d-hostile/v/h1/download", token: financeToken, remote: "203.0.113.9:1234"})
	mustCode(t, w.Code, 200, "download")
	if got := w.Body.String(); got != "<html><script>alert(3)</script></html>" {
		t.Fatalf("downloaded %q", got)
	}
	h := w.Header()
	if h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download headers: %v", h)
	}
	disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil || disp != "attachment" {
		t.Fatalf("Content-Disposition %q: %v", h.Get("Content-Disposition"), err)
	}
	if params["filename"] != engine.SafeName(hostileName) || strings.ContainsAny(params["filename"], "<>/") {
		t.Errorf("file name %q, want the tree export's %q", params["filename"], engine.SafeName(hostileName))
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP %q", h.Get("Content-Security-Policy"))
	}
	// A name with control and bidi characters gets the tree export's
	// safe name: "txt.exe" cannot pose as "exe.txt" once saved.
	w = f.get(t, "/d/d-hostile/v/h2/download", financeToken)
	_, params, err = mime.ParseMediaType(w.Header().Get("Content-Disposition"))
	if err != nil || params["filename"] != engine.SafeName(hostileName3) || strings.ContainsAny(params["filename"], "\x1b\r\u202e") || !strings.HasSuffix(params["filename"], "txt.exe") {
		t.Errorf("file name %q (%v)", params["filename"], err)
	}
	a := f.audits(t)
	if len(a) != 2 {
		t.Fatalf("audit rows %+v, want 2 downloads", a)
	}
	if a[0].Actor != "finance-bot" || a[0].Action != "serve.download" || a[0].Subject != "d-hostile h1" ||
		!strings.Contains(a[0].Detail, "from 203.0.113.9") || !strings.Contains(a[0].Detail, f.blobID(t, "<html><script>alert(3)</script></html>")) {
		t.Errorf("audit row %+v", a[0])
	}
}

func (f *fixture) blobID(t testing.TB, content string) string {
	sums, err := dedupe.HashReader(strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return sums.ID.String()
}

// failingBlobs fails every Open.
type failingBlobs struct{}

func (failingBlobs) Open(context.Context, dedupe.ID) (io.ReadCloser, error) {
	return nil, errors.New("/secret/path/blobs/ab: input/output error")
}

// TestDownloadOfAMissingBlob: a store that cannot read the blob answers
// 500 without its error's text, and no download is audited.
func TestDownloadOfAMissingBlob(t *testing.T) {
	f := newFixture(t, fixDocs)
	f.srv.Blobs = failingBlobs{}
	w := f.get(t, "/d/d-budget/v/v1/download", financeToken)
	mustCode(t, w.Code, http.StatusInternalServerError, "download of an unreadable blob")
	if strings.Contains(w.Body.String(), "/secret/path") {
		t.Error("the error page shows the server's error text")
	}
	if a := f.audits(t); len(a) != 0 {
		t.Errorf("a download that did not happen was audited: %+v", a)
	}
}

// TestHostileNamesRenderAsText: names, folders, subjects, senders and
// link reasons from strangers appear as text in every page, never as
// markup.
func TestHostileNamesRenderAsText(t *testing.T) {
	f := newFixture(t, fixDocs)
	raw := []string{"<script", "<img", "</title><script", "</line><script", "<b>bold", "\x1b", "\r\nX-Injected"}
	pages := []string{"/d/d-hostile", "/d/d-hostile/v/h2", "/w/finance", "/w/finance/f/%3Cb%3Ebold%3C/b%3E", "/w/finance/f/%3Cb%3Ebold%3C/b%3E/x%22y", "/search?q=script", "/search?q=%3Cscript%3E"}
	for _, p := range pages {
		w := f.get(t, p, financeToken)
		mustCode(t, w.Code, 200, p)
		b := w.Body.String()
		for _, r := range raw {
			if strings.Contains(b, r) {
				t.Errorf("%s holds %q unescaped", p, r)
			}
		}
	}
	doc := f.get(t, "/d/d-hostile", financeToken).Body.String()
	for _, want := range []string{hostileName, hostileName2, hostileSubject, "../.."} {
		if !strings.Contains(html.UnescapeString(stripTags(doc)), want) {
			t.Errorf("the document page does not show %q as text", want)
		}
	}
	// The folder trail links each segment, escaped in the path.
	if !strings.Contains(doc, `href="/w/finance/f/%3Cb%3Ebold%3C/b%3E/x%22y"`) {
		t.Errorf("folder trail link not path-escaped:\n%s", doc)
	}
}

var tag = regexp.MustCompile(`<[^>]*>`)

func stripTags(s string) string { return tag.ReplaceAllString(s, "") }

// TestDocumentPage: the current version first, the parallel versions of
// a fork named as such, every version's provenance and links.
func TestDocumentPage(t *testing.T) {
	f := newFixture(t, fixDocs)
	b := f.get(t, "/d/d-budget", financeToken).Body.String()
	cur := section(t, b, `id="current"`, "</section>")
	if !strings.Contains(cur, "version 3") || strings.Contains(cur, "version 1") || !strings.Contains(cur, `/d/d-budget/v/v3/download`) {
		t.Errorf("current section:\n%s", cur)
	}
	text := html.UnescapeString(stripTags(b))
	for _, want := range []string{
		"alice@example.org INBOX", "Budget draft", // mail: mailbox, sender, subject
		"Documents/Finance", "3.0 (current)", // SharePoint library and version label
		"Finance/Budgets", "Budget 2026 v2.xlsx", // share path and name
		"version 1 (mail-reply, 95% confident)", "version 2 (text-similar, 70% confident)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("document page lacks %q", want)
		}
	}
	if n := strings.Count(b, "<circle"); n != 3 {
		t.Errorf("DAG has %d nodes, want 3", n)
	}
	if n := strings.Count(b, `class="edge weak"`); n != 1 {
		t.Errorf("DAG has %d weak links, want 1 (the 70%% one)", n)
	}
	fork := f.get(t, "/d/d-plan", financeToken).Body.String()
	cur = html.UnescapeString(stripTags(section(t, fork, `id="current"`, "</section>")))
	if !strings.Contains(cur, "2 parallel versions to resolve") || !strings.Contains(cur, "version 2") || !strings.Contains(cur, "version 3") {
		t.Errorf("fork's current section:\n%s", cur)
	}
	// A version link marks that version; an unknown one is 404.
	v := f.get(t, "/d/d-budget/v/v2", financeToken).Body.String()
	if !strings.Contains(v, `class="version selected" id="v-v2"`) {
		t.Error("the version link does not mark version 2")
	}
	mustCode(t, f.get(t, "/d/d-budget/v/nope", financeToken).Code, 404, "unknown version")
	mustCode(t, f.get(t, "/d/nope", financeToken).Code, 404, "unknown document")
	a := f.audits(t)
	if len(a) != 3 || a[0].Action != "serve.view" || a[0].Subject != "d-budget" || a[2].Subject != "d-budget v2" {
		t.Errorf("view audit rows: %+v", a)
	}
}

func section(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("no %q in page", from)
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		t.Fatalf("no %q after %q", to, from)
	}
	return s[i : i+j]
}

// TestCheckAnswers: "is this the current version?" for the current
// version, an old one, one side of a fork and a stranger's file.
func TestCheckAnswers(t *testing.T) {
	f := newFixture(t, fixDocs)
	check := func(name, content string) string {
		form, ct := upload(t, name, content)
		w := f.do(t, request{method: "POST", path: "/check", token: financeToken, body: form, contentType: ct})
		mustCode(t, w.Code, 200, "check "+name)
		return html.UnescapeString(stripTags(w.Body.String()))
	}
	if got := check("Budget 2026 FINAL (1).xlsx", "budget final"); !strings.Contains(got, "This is the current version: version 3 of Budget 2026.xlsx") {
		t.Errorf("current file:\n%s", got)
	}
	if got := check("Budget.xlsx", "budget draft one"); !strings.Contains(got, "This is version 1 of Budget 2026.xlsx, and it is not the current version") || !strings.Contains(got, "The current version is version 3") {
		t.Errorf("old file:\n%s", got)
	}
	if got := check("Plan (bob).docx", "plan two by bob"); !strings.Contains(got, "not the current version") || !strings.Contains(got, "The current version is version 3") {
		// bob's side of the fork: carol's is the other head.
		t.Errorf("one side of a fork:\n%s", got)
	}
	if got := check("Plan.docx", "plan one"); !strings.Contains(got, "2 parallel versions to resolve: version 2, version 3") {
		t.Errorf("the fork's parent:\n%s", got)
	}
	if got := check("x.txt", "nobody has this"); !strings.Contains(got, "Not found") {
		t.Errorf("unknown file:\n%s", got)
	}
	a := f.audits(t)
	if len(a) != 5 || a[0].Action != "serve.check" || a[0].Subject != f.blobID(t, "budget final") || !strings.Contains(a[0].Detail, `"Budget 2026 FINAL (1).xlsx" current`) ||
		!strings.Contains(a[1].Detail, "not current") || !strings.Contains(a[4].Detail, "unknown") {
		t.Errorf("check audit rows: %+v", a)
	}
}

// TestCheckRefusals: too large, not a form, cross-site.
func TestCheckRefusals(t *testing.T) {
	f := newFixture(t, fixDocs)
	f.srv.MaxUpload = 1 << 10
	form, ct := upload(t, "big.bin", strings.Repeat("x", 3<<20))
	mustCode(t, f.do(t, request{method: "POST", path: "/check", token: financeToken, body: form, contentType: ct}).Code, http.StatusRequestEntityTooLarge, "oversized upload")
	mustCode(t, f.do(t, request{method: "POST", path: "/check", token: financeToken, body: strings.NewReader("x=1"), contentType: "application/x-www-form-urlencoded"}).Code, http.StatusBadRequest, "not multipart")
	form, ct = upload(t, "a.txt", "budget final")
	w := f.do(t, request{method: "POST", path: "/check", body: form, contentType: ct, header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	mustCode(t, w.Code, http.StatusForbidden, "cross-site form post")
	if a := f.audits(t); len(a) != 0 {
		t.Errorf("refused checks were audited: %+v", a)
	}
}

// TestHostCheck: without a token, only the listen address and loopback
// names are answered (DNS rebinding); with one, any Host.
func TestHostCheck(t *testing.T) {
	f := newFixture(t, fixDocs)
	req := func(host, token string) int {
		r, _ := http.NewRequest("GET", "http://"+host+"/", nil)
		r.RemoteAddr = "127.0.0.1:1"
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(w, r)
		return w.Code
	}
	mustCode(t, req("evil.example:8380", ""), http.StatusMisdirectedRequest, "rebound host")
	mustCode(t, req("localhost:8380", ""), 200, "localhost")
	mustCode(t, req("evil.example", financeToken), 200, "any host with a token")
}

// TestFolderPagesAndCounts: subfolders count everything below them;
// documents page by name.
func TestFolderPagesAndCounts(t *testing.T) {
	f := newFixture(t, fixDocs)
	root := html.UnescapeString(stripTags(f.get(t, "/w/finance", financeToken).Body.String()))
	// Budgets holds Plan.docx and Budgets/2026 holds one more.
	if !regexp.MustCompile(`Budgets\s*2`).MatchString(root) || !regexp.MustCompile(`Odd\s*2`).MatchString(root) {
		t.Errorf("root folder counts:\n%s", root)
	}
	f.srv.PageSize = 1
	w := f.get(t, "/w/finance/f/Odd", financeToken)
	b := w.Body.String()
	if !strings.Contains(b, "100 done.txt") || strings.Contains(b, "100%_done.txt") {
		t.Fatalf("first page:\n%s", b)
	}
	next := regexp.MustCompile(`href="(\?[^"]+)" rel="next"`).FindStringSubmatch(b)
	if next == nil {
		t.Fatal("no next link")
	}
	b2 := f.get(t, "/w/finance/f/Odd"+html.UnescapeString(next[1]), financeToken).Body.String()
	if !strings.Contains(b2, "100%_done.txt") || strings.Contains(b2, "100 done.txt") || strings.Contains(b2, `rel="next"`) {
		t.Errorf("second page:\n%s", b2)
	}
	mustCode(t, f.get(t, "/w/finance/f/Nope", financeToken).Code, 404, "unknown folder")
}

// TestSearchIsLiteral: % and _ match themselves; searches are audited.
func TestSearchIsLiteral(t *testing.T) {
	f := newFixture(t, fixDocs)
	b := f.get(t, "/search?q=100%25_", financeToken).Body.String()
	if !strings.Contains(b, "d-pct\"") || strings.Contains(b, "d-pct2") {
		t.Errorf("search for %q:\n%s", "100%_", b)
	}
	b = f.get(t, "/search?q=BUDGET&ws=finance", financeToken).Body.String()
	if !strings.Contains(b, "/d/d-budget") {
		t.Error("search is not case-insensitive")
	}
	a := f.audits(t)
	if len(a) != 2 || a[0].Action != "serve.search" || !strings.Contains(a[0].Detail, `"100%_"`) || a[1].Subject != "finance" {
		t.Errorf("search audit rows: %+v", a)
	}
}

// TestAuditPages: curators read a workspace's and a document's audit
// log, as a page and as CSV ("who downloaded version 3?"); viewers are
// refused; cells a spreadsheet would run are defused.
func TestAuditPages(t *testing.T) {
	f := newFixture(t, fixDocs)
	// finance: a viewer token downloads; legal's curator views the contract.
	f.get(t, "/d/d-budget/v/v3/download", financeToken)
	f.get(t, "/d/d-budget", financeToken)
	f.get(t, "/d/d-contract", legalToken)
	f.get(t, "/search?q=%3DHYPERLINK(1)&ws=finance", financeToken)
	mustCode(t, f.get(t, "/w/finance/audit", financeToken).Code, http.StatusForbidden, "viewer's workspace audit")
	mustCode(t, f.get(t, "/d/d-budget/audit.csv", financeToken).Code, http.StatusForbidden, "viewer's document audit")
	mustCode(t, f.get(t, "/d/d-budget/audit", legalToken).Code, http.StatusNotFound, "another workspace's document audit")
	// A curator whose name a spreadsheet would run (names will come from
	// sign-in claims).
	f.srv.Auth = NewAuth([]Token{{Secret: financeToken, Who: NewPrincipal(`=HYPERLINK("http://evil.example")`, map[string]Role{"finance": Curator})}}, None, true)
	f.get(t, "/d/d-plan", financeToken)
	page := html.UnescapeString(stripTags(f.get(t, "/d/d-budget/audit", financeToken).Body.String()))
	if !strings.Contains(page, "finance-bot") || !strings.Contains(page, "serve.download") || !strings.Contains(page, "d-budget v3") || strings.Contains(page, "d-contract") {
		t.Errorf("document audit page:\n%s", page)
	}
	w := f.get(t, "/w/finance/audit.csv", financeToken)
	mustCode(t, w.Code, 200, "workspace audit csv")
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("csv content type %q", ct)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(w.Body.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Header, then newest first: the audit page views are not logged;
	// the curator's view, the search, the view, the download (legal's
	// view is not finance's).
	if len(recs) != 5 || recs[1][2] != `'=HYPERLINK("http://evil.example")` {
		t.Fatalf("the curator's row: %q", recs)
	}
	recs = append(recs[:1], recs[2:]...)
	if len(recs) != 4 || recs[1][3] != "serve.search" || recs[2][3] != "serve.view" || recs[3][3] != "serve.download" || recs[3][4] != "d-budget v3" || recs[3][2] != "finance-bot" {
		t.Fatalf("workspace audit csv: %q", recs)
	}
	if !strings.HasPrefix(recs[1][5], `"=HYPERLINK`) {
		t.Errorf("the search detail %q", recs[1][5])
	}
	for _, r := range recs[1:] {
		for _, c := range r {
			if strings.HasPrefix(c, "=") {
				t.Errorf("a cell a spreadsheet would run: %q", c)
			}
		}
	}
	// Paging: one entry a page, older through the link.
	f.srv.PageSize = 1
	b := f.get(t, "/w/finance/audit", financeToken).Body.String()
	next := regexp.MustCompile(`href="(\?before=\d+)" rel="next"`).FindStringSubmatch(b)
	if next == nil || !strings.Contains(b, "d-plan") {
		t.Fatalf("first audit page:\n%s", b)
	}
	if b := f.get(t, "/w/finance/audit"+next[1], financeToken).Body.String(); !strings.Contains(b, "serve.search") || strings.Contains(b, "d-plan") {
		t.Errorf("second audit page:\n%s", b)
	}
}

// correction is what a Corrector was asked to do.
type correction struct {
	kind, actor, note string
	blobs             []string
}

// TestCorrections: curators relink, split and merge from the document
// page; the form's versions become the pin's contents in order; viewers,
// other workspaces, bad forms and cross-site posts change nothing; each
// correction is audited against the document.
func TestCorrections(t *testing.T) {
	f := newFixture(t, fixDocs)
	var got []correction
	f.srv.Correct = func(_ context.Context, kind string, blobs []dedupe.ID, actor, note string) error {
		c := correction{kind: kind, actor: actor, note: note}
		for _, b := range blobs {
			c.blobs = append(c.blobs, b.String())
		}
		got = append(got, c)
		return nil
	}
	f.srv.Auth = NewAuth([]Token{
		{Secret: financeToken, Who: NewPrincipal("finance-bot", map[string]Role{"finance": Viewer})},
		{Secret: curatorToken, Who: NewPrincipal("fiona", map[string]Role{"finance": Curator, "legal": Viewer})},
	}, None, true)
	post := func(token, doc, form string, hdr map[string]string) *httptest.ResponseRecorder {
		return f.do(t, request{method: "POST", path: "/d/" + doc + "/correct", token: token, body: strings.NewReader(form),
			contentType: "application/x-www-form-urlencoded", header: hdr})
	}
	page := f.get(t, "/d/d-budget", curatorToken).Body.String()
	if !strings.Contains(page, `action="/d/d-budget/correct"`) || strings.Contains(f.get(t, "/d/d-budget", financeToken).Body.String(), "/correct") {
		t.Error("the correction forms are for curators only")
	}
	id := func(c string) string { return f.blobID(t, c) }
	w := post(curatorToken, "d-budget", "kind=relink&version=v3&parent=v1&note=made+from+the+first+draft", nil)
	mustCode(t, w.Code, http.StatusSeeOther, "relink")
	if w.Header().Get("Location") != "/d/d-budget" {
		t.Errorf("relink redirects to %q", w.Header().Get("Location"))
	}
	mustCode(t, post(curatorToken, "d-plan", "kind=split&version=p3", nil).Code, http.StatusSeeOther, "split")
	mustCode(t, post(curatorToken, "d-budget", "kind=merge&other=http%3A%2F%2F127.0.0.1%3A8380%2Fd%2Fd-plan%2Fv%2Fp2", nil).Code, http.StatusSeeOther, "merge")
	want := []correction{
		{kind: "relink", actor: "fiona", note: "made from the first draft", blobs: []string{id("budget final"), id("budget draft one")}},
		{kind: "split", actor: "fiona", blobs: []string{id("plan two by carol")}},
		{kind: "merge", actor: "fiona", blobs: []string{id("budget final"), id("plan one")}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("corrections:\n%v\nwant:\n%v", got, want)
	}
	// Refused: a viewer, another workspace's document to merge (viewer
	// there), a version from elsewhere, itself as parent, every version
	// split, an unknown kind, a cross-site post.
	for _, c := range []struct {
		token, doc, form string
		hdr              map[string]string
		code             int
	}{
		{financeToken, "d-budget", "kind=split&version=v1", nil, http.StatusForbidden},
		{curatorToken, "d-budget", "kind=merge&other=d-contract", nil, http.StatusForbidden},
		{curatorToken, "d-budget", "kind=relink&version=v3&parent=p1", nil, http.StatusBadRequest},
		{curatorToken, "d-budget", "kind=relink&version=v3&parent=v3", nil, http.StatusBadRequest},
		{curatorToken, "d-plan", "kind=split&version=p1&version=p2&version=p3", nil, http.StatusBadRequest},
		{curatorToken, "d-budget", "kind=delete", nil, http.StatusBadRequest},
		{curatorToken, "d-budget", "kind=merge&other=d-nope", nil, http.StatusNotFound},
		{curatorToken, "d-budget", "kind=split&version=v1", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	} {
		mustCode(t, post(c.token, c.doc, c.form, c.hdr).Code, c.code, c.form)
	}
	if len(got) != 3 {
		t.Errorf("a refused correction reached the store: %v", got[3:])
	}
	var audited []string
	for _, a := range f.audits(t) {
		if a.Action == "serve.correct" {
			audited = append(audited, a.Actor+" "+a.Workspace+" "+a.Document+" "+a.Detail)
		}
	}
	if len(audited) != 3 || !strings.HasPrefix(audited[0], "fiona finance d-budget relink "+id("budget final")[:12]) || !strings.Contains(audited[0], `"made from the first draft"`) {
		t.Errorf("correction audit rows: %q", audited)
	}
}

// TestCompareVersions: two versions' text compared word by word, added
// and removed words counted and marked, strangers' text escaped and its
// control characters shown; a format without text says so; the view is
// audited.
func TestCompareVersions(t *testing.T) {
	f := newFixture(t, fixDocs)
	w := f.get(t, "/d/d-notes/compare?a=n1&b=n2", financeToken)
	mustCode(t, w.Code, 200, "compare")
	b := w.Body.String()
	if !strings.Contains(b, "<del>brown</del>") || !strings.Contains(b, "<ins>red</ins>") {
		t.Errorf("the changed word is not marked:\n%s", b)
	}
	// Added: red, A, new, line, 0, here; removed: brown, script, alert,
	// 1, script.
	if got := section(t, b, `id="summary"`, "</p>"); !strings.Contains(got, "6 words added, 5 removed.") {
		t.Errorf("summary %q", got)
	}
	if strings.Contains(b, "<script>") || strings.Contains(b, "\x1b") || !strings.Contains(b, `\x1b]0;here\x07`) {
		t.Errorf("the text's markup or control characters reach the page raw:\n%s", b)
	}
	_, added, removed := diffWords("The quick brown fox\njumps.\n", "The quick red fox\njumps high.\n")
	if added != 2 || removed != 1 {
		t.Errorf("diffWords counted %d added, %d removed; want 2, 1", added, removed)
	}
	segs, _, _ := diffWords("a b c", "a b c")
	if len(segs) != 1 || segs[0].Op != 0 || segs[0].Text != "a b c" {
		t.Errorf("equal texts: %+v", segs)
	}
	if b := f.get(t, "/d/d-notes/compare?a=n2&b=n3", financeToken).Body.String(); !strings.Contains(b, "reads no text from this kind of file") {
		t.Errorf("a PNG compared:\n%s", b)
	}
	mustCode(t, f.get(t, "/d/d-notes/compare?a=n1&b=v1", financeToken).Code, http.StatusBadRequest, "a version of another document")
	mustCode(t, f.get(t, "/d/d-contract/compare?a=c1&b=c1", financeToken).Code, http.StatusNotFound, "another workspace's document")
	a := f.audits(t)
	if len(a) != 2 || a[0].Action != "serve.compare" || a[0].Subject != "d-notes n1 n2" || a[0].Document != "d-notes" {
		t.Errorf("compare audit rows: %+v", a)
	}
}

// TestSearchFilters: the form's filters reach the search; bad dates and
// kinds are refused, naming the problem.
func TestSearchFilters(t *testing.T) {
	f := newFixture(t, fixDocs)
	hits := func(u string) string {
		t.Helper()
		w := f.get(t, u, financeToken)
		mustCode(t, w.Code, 200, u)
		return strings.Join(regexp.MustCompile(`href="/d/([^"]+)"`).FindAllString(section(t, w.Body.String(), "<main", "</main>"), -1), " ")
	}
	if got := hits("/search?q=budget&kind=sharepoint"); got != `href="/d/d-budget"` {
		t.Errorf("kind=sharepoint: %s", got)
	}
	if got := hits("/search?q=plan&kind=mail&sender=carol"); got != `href="/d/d-plan"` {
		t.Errorf("mail from carol: %s", got)
	}
	if got := hits("/search?q=plan&kind=mail&sender=zed"); got != "" {
		t.Errorf("mail from zed: %s", got)
	}
	if got := hits("/search?from=2026-02-03&to=2026-02-03&ws=finance"); got != `href="/d/d-budget" href="/d/d-notes" href="/d/d-plan"` {
		t.Errorf("versions of 3 February: %s", got)
	}
	mustCode(t, f.get(t, "/search?q=x&from=3/2/2026", financeToken).Code, http.StatusBadRequest, "a date not YYYY-MM-DD")
	mustCode(t, f.get(t, "/search?q=x&kind=fax", financeToken).Code, http.StatusBadRequest, "an unknown kind")
}
