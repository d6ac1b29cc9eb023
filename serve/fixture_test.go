package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// The fixture: documents declared version by version, their contents
// stored in a real blob store and their sightings committed to a real
// SQLite catalog, then the history stored as a rebuild would.

type fixVersion struct {
	key     string
	content string
	seq     int
	parents []workspace.Link
	seen    []workspace.Sighting // Source, Kind, Name, Path, Lineage...; the rest is filled in
}

type fixDoc struct {
	key, ws, folder, name string
	versions              []fixVersion
}

const (
	// Hostile names and texts, from the tree export's fuzz seeds and the
	// report's: markup, quotes, terminal escapes, bidi overrides, path
	// tricks, invalid UTF-8.
	hostileName    = "<script>alert(1)</script>.docx"
	hostileName2   = "\"><img src=x onerror=alert(1)>'.pdf"
	hostileName3   = "evil\x1b]0;t\x07\r\u202etxt.exe"
	hostileName4   = "../../etc/passwd"
	hostileSubject = "</title><script>alert(2)</script>"
	hostileFrom    = "\"Evil\" <x@example.org>\r\nX-Injected: 1"
	hostileFolder  = "<b>bold</b>/x\"y"
)

func share(name, p string) workspace.Sighting {
	return workspace.Sighting{Source: "drive", Kind: "share", Name: name, Path: p, Lineage: connectors.Lineage{Kind: "share"}}
}

func mail(name, from, subject string) workspace.Sighting {
	return workspace.Sighting{Source: "mail-" + from, Kind: "mail", Name: name, Author: from, Lineage: connectors.Lineage{Kind: "mail",
		MailLineage: connectors.MailLineage{Account: from, Mailbox: "INBOX", From: from, Subject: subject, Date: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)}}}
}

func spo(name string, idx int, current bool) workspace.Sighting {
	return workspace.Sighting{Source: "spo", Kind: "sharepoint", Name: name, Path: "Finance", Lineage: connectors.Lineage{Kind: "sharepoint",
		SharePointLineage: connectors.SharePointLineage{DriveName: "Documents", ItemID: "01ABC", VersionIndex: idx, Current: current}}}
}

func link(parent, reason string, conf float64) []workspace.Link {
	return []workspace.Link{{Parent: parent, Reason: reason, Confidence: conf}}
}

var fixDocs = []fixDoc{
	{key: "d-budget", ws: "finance", folder: "Budgets/2026", name: "Budget 2026.xlsx", versions: []fixVersion{
		{key: "v1", content: "budget draft one", seq: 1, seen: []workspace.Sighting{mail("Budget 2026.xlsx", "alice@example.org", "Budget draft")}},
		{key: "v2", content: "budget draft two", seq: 2, parents: link("v1", "mail-reply", 0.95), seen: []workspace.Sighting{share("Budget 2026 v2.xlsx", "Finance/Budgets")}},
		{key: "v3", content: "budget final", seq: 3, parents: link("v2", "text-similar", 0.7), seen: []workspace.Sighting{spo("Budget 2026.xlsx", 3, true), share("Budget 2026 FINAL.xlsx", "Finance")}},
	}},
	{key: "d-plan", ws: "finance", folder: "Budgets", name: "Plan.docx", versions: []fixVersion{
		{key: "p1", content: "plan one", seq: 1, seen: []workspace.Sighting{share("Plan.docx", "Plans")}},
		{key: "p2", content: "plan two by bob", seq: 2, parents: link("p1", "name-family", 0.9), seen: []workspace.Sighting{mail("Plan (bob).docx", "bob@example.org", "my edits")}},
		{key: "p3", content: "plan two by carol", seq: 3, parents: link("p1", "name-family", 0.9), seen: []workspace.Sighting{mail("Plan (carol).docx", "carol@example.org", "edits")}},
	}},
	{key: "d-contract", ws: "legal", folder: "", name: "Contract.pdf", versions: []fixVersion{
		{key: "c1", content: "contract text", seq: 1, seen: []workspace.Sighting{share("Contract.pdf", "Legal")}},
	}},
	{key: "d-hostile", ws: "finance", folder: hostileFolder, name: hostileName, versions: []fixVersion{
		{key: "h1", content: "<html><script>alert(3)</script></html>", seq: 1, seen: []workspace.Sighting{mail(hostileName, hostileFrom, hostileSubject), share(hostileName2, "../..")}},
		{key: "h2", content: "hostile two", seq: 2, parents: link("h1", "</line><script>x</script>", 0.85), seen: []workspace.Sighting{share(hostileName3, "x"), share(hostileName4, "y")}},
	}},
	{key: "d-notes", ws: "finance", folder: "Notes", name: "Notes.txt", versions: []fixVersion{
		{key: "n1", content: "The quick brown fox\njumps over the lazy dog.\n<script>alert(1)</script>\n", seq: 1, seen: []workspace.Sighting{share("Notes.txt", "Notes")}},
		{key: "n2", content: "The quick red fox\njumps over the lazy dog.\nA new line \x1b]0;here\a.\n", seq: 2, parents: link("n1", "name-family", 0.9), seen: []workspace.Sighting{share("Notes.txt", "Notes")}},
		{key: "n3", content: "\x89PNG\r\n\x1a\nnot text", seq: 3, parents: link("n2", "name-family", 0.9), seen: []workspace.Sighting{share("Notes.png", "Notes")}},
	}},
	{key: "d-pct", ws: "finance", folder: "Odd", name: "100%_done.txt", versions: []fixVersion{
		{key: "q1", content: "percent", seq: 1, seen: []workspace.Sighting{share("100%_done.txt", "Odd")}},
	}},
	{key: "d-pct2", ws: "finance", folder: "Odd", name: "100 done.txt", versions: []fixVersion{
		{key: "q2", content: "no percent", seq: 1, seen: []workspace.Sighting{share("100 done.txt", "Odd")}},
	}},
}

type fixture struct {
	cat   *workspace.Catalog
	blobs *dedupe.Mem
	srv   *Server
	docs  map[string]fixDoc
}

const (
	financeToken = "finance-viewer-token-0123456789"
	legalToken   = "legal-curator-token-0123456789"
	curatorToken = "finance-curator-token-0123456789"
)

func newFixture(t testing.TB, docs []fixDoc) *fixture {
	t.Helper()
	ctx := context.Background()
	cat, err := workspace.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	blobs := dedupe.NewMem()
	run, err := cat.StartRun(ctx, "job", "sync")
	if err != nil {
		t.Fatal(err)
	}
	b := &workspace.Batch{RunID: run}
	ref := 0
	refs := map[string][]string{} // doc/version -> sighting refs
	for _, d := range docs {
		for _, v := range d.versions {
			sums, err := blobs.Put(ctx, strings.NewReader(v.content))
			if err != nil {
				t.Fatal(err)
			}
			b.Blobs = append(b.Blobs, workspace.Blob{Sums: sums, Sketched: true})
			for _, s := range v.seen {
				ref++
				s.Ref, s.Fingerprint, s.Blob, s.Size = fmt.Sprint("ref", ref), "f", sums.ID, sums.Size
				s.Workspace, s.Folder, s.RunID = d.ws, d.folder, run
				s.Time = time.Date(2026, 2, v.seq, 12, 0, 0, 0, time.UTC)
				b.Sightings = append(b.Sightings, s)
				refs[d.key+"/"+v.key] = append(refs[d.key+"/"+v.key], s.Ref)
			}
		}
	}
	if _, err := cat.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	if err := cat.EachSighting(ctx, func(s workspace.Sighting) error { ids[s.Ref] = s.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	var stored []workspace.Document
	byKey := map[string]fixDoc{}
	for _, d := range docs {
		byKey[d.key] = d
		wd := workspace.Document{Key: d.key, Workspace: d.ws, Folder: d.folder, Name: d.name}
		for _, v := range d.versions {
			sums, _ := dedupe.HashReader(strings.NewReader(v.content))
			wv := workspace.Version{Key: v.key, Blob: sums.ID, Seq: v.seq, Time: time.Date(2026, 2, v.seq, 12, 0, 0, 0, time.UTC), Author: "author" + v.key, Parents: v.parents}
			for _, r := range refs[d.key+"/"+v.key] {
				wv.Sightings = append(wv.Sightings, ids[r])
			}
			wd.Versions = append(wd.Versions, wv)
		}
		stored = append(stored, wd)
	}
	if err := cat.ReplaceHistory(ctx, stored); err != nil {
		t.Fatal(err)
	}
	auth := NewAuth([]Token{
		{Secret: financeToken, Who: NewPrincipal("finance-bot", map[string]Role{"finance": Viewer})},
		{Secret: legalToken, Who: NewPrincipal("legal-bot", map[string]Role{"legal": Curator})},
		{Secret: curatorToken, Who: NewPrincipal("fiona", map[string]Role{"finance": Curator, "legal": Viewer})},
	}, Viewer, true)
	return &fixture{cat: cat, blobs: blobs, docs: byKey, srv: &Server{Cat: cat, Blobs: blobs, Auth: auth, Listen: "127.0.0.1:8380"}}
}

// request is one request to the handler: from loopback, to the listen
// address, with the token if any.
type request struct {
	method, path, token string
	body                io.Reader
	contentType         string
	remote              string            // default 127.0.0.1:50000
	header              map[string]string // more headers
}

func (f *fixture) do(t testing.TB, r request) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	req := httptest.NewRequest(r.method, "http://127.0.0.1:8380"+r.path, r.body)
	req.RemoteAddr = "127.0.0.1:50000"
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, req)
	return w
}

func (f *fixture) get(t testing.TB, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do(t, request{path: path, token: token})
}

// upload is a multipart form with the file field.
func upload(t testing.TB, name, content string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// audits lists the audit rows (oldest first) whose action starts with
// "serve.".
func (f *fixture) audits(t testing.TB) []workspace.AuditEntry {
	t.Helper()
	all, err := f.cat.AuditLog(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []workspace.AuditEntry
	for i := len(all) - 1; i >= 0; i-- {
		if strings.HasPrefix(all[i].Action, "serve.") {
			out = append(out, all[i])
		}
	}
	return out
}
