package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/rclone/rclone/backend/webdav"
	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/config/obscure"
	"github.com/rclone/rclone/fs/object"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
)

// davRemote is rclone's WebDAV client on the share at base (".../dav/"),
// signing in with the token: as a bearer token, or (basic) as the
// password of HTTP Basic auth, as a mapped drive does.
func davRemote(t *testing.T, base, token string, basic bool) fs.Fs {
	t.Helper()
	auth := "bearer_token='" + token + "'"
	if basic {
		auth = "user=anyone,pass='" + obscure.MustObscure(token) + "'"
	}
	f, err := fs.NewFs(context.Background(), fmt.Sprintf(":webdav,url='%s',vendor=other,%s:", base, auth))
	if err != nil {
		t.Fatalf("rclone webdav remote: %v", err)
	}
	return f
}

// davWalk lists dir of the remote and everything below it, folder by
// folder: the files by path, and the folders.
func davWalk(t *testing.T, f fs.Fs, dir string) (files map[string]fs.Object, dirs map[string]bool) {
	t.Helper()
	files, dirs = map[string]fs.Object{}, map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := f.List(context.Background(), dir)
		if err != nil {
			t.Fatalf("list %q: %v", dir, err)
		}
		for _, e := range entries {
			switch e := e.(type) {
			case fs.Directory:
				dirs[e.Remote()] = true
				walk(e.Remote())
			case fs.Object:
				files[e.Remote()] = e
			}
		}
	}
	walk(dir)
	return files, dirs
}

// exportOf exports the fixture's catalog with the tree export: its files
// (manifests aside) with their SHA-256, its folders, and each workspace's
// manifest, by the workspace folder's name.
func exportOf(t *testing.T, f *fixture) (files map[string]string, dirs map[string]bool, manifests map[string][]engine.ManifestEntry) {
	t.Helper()
	dir := t.TempDir()
	st, err := engine.ExportTree(context.Background(), f.cat, f.blobs, dir)
	if err != nil || len(st.Problems) > 0 {
		t.Fatalf("export: %v %q", err, st.Problems)
	}
	files, dirs, manifests = map[string]string{}, map[string]bool{}, map[string][]engine.ManifestEntry{}
	err = filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
		case d.IsDir():
			dirs[rel] = true
		case path.Base(rel) == engine.ManifestName && strings.Count(rel, "/") == 1:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var mf []engine.ManifestEntry
			if err := json.Unmarshal(b, &mf); err != nil {
				return err
			}
			manifests[path.Dir(rel)] = mf
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			files[rel] = hex.EncodeToString(sum[:])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, dirs, manifests
}

func readObject(t *testing.T, o fs.Object, options ...fs.OpenOption) string {
	t.Helper()
	rc, err := o.Open(context.Background(), options...)
	if err != nil {
		t.Fatalf("open %s: %v", o.Remote(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", o.Remote(), err)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestWebDAVIsTheTreeExport: rclone's WebDAV client, listing the share
// folder by folder, finds exactly the files and folders the tree export
// writes for the workspace (hostile names made safe the same way), and
// reads back each version's bytes; listing audits nothing, each read
// audits one download naming the document and version.
func TestWebDAVIsTheTreeExport(t *testing.T) {
	f := newFixture(t, fixDocs)
	srv := httptest.NewServer(f.srv.Handler())
	defer srv.Close()
	base := srv.URL + "/dav/"
	files, dirs, manifests := exportOf(t, f)

	for _, basic := range []bool{false, true} {
		r := davRemote(t, base, financeToken, basic)
		top, err := r.List(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(top) != 1 || top[0].Remote() != "finance" {
			t.Fatalf("finance (basic %v) sees %v at the top, want finance only", basic, top)
		}
	}
	r := davRemote(t, base, financeToken, false)
	got, gotDirs := davWalk(t, r, "")
	want, wantDirs := map[string]string{}, map[string]bool{}
	for p, sum := range files {
		if strings.HasPrefix(p, "finance/") {
			want[p] = sum
		}
	}
	for d := range dirs {
		if d == "finance" || strings.HasPrefix(d, "finance/") {
			wantDirs[d] = true
		}
	}
	if g, w := sortedKeys(got), sortedKeys(want); strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("the share has files\n  %s\nthe tree export\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
	if g, w := sortedKeys(gotDirs), sortedKeys(wantDirs); strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("the share has folders\n  %s\nthe tree export\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
	if a := f.audits(t); len(a) != 0 {
		t.Fatalf("listing wrote audit rows: %+v", a)
	}
	// The folder of the hostile names is there, made safe.
	if !gotDirs["finance/"+engine.SafePath(hostileFolder)] || !strings.Contains(strings.Join(sortedKeys(got), "\n"), engine.SafeName(hostileName)) {
		t.Errorf("the hostile document is not where the export puts it: %v", sortedKeys(got))
	}

	// Every version's bytes, size and time, at the export's path.
	reads := 0
	byVersion := map[string]engine.ManifestEntry{}
	for _, e := range manifests["finance"] {
		byVersion[e.Document+"/"+e.Version] = e
	}
	for _, d := range fixDocs {
		if d.ws != "finance" {
			continue
		}
		for _, v := range d.versions {
			e, ok := byVersion[d.key+"/"+v.key]
			if !ok {
				t.Fatalf("%s %s is not in the export's manifest", d.key, v.key)
			}
			o := got["finance/"+e.Path]
			if o == nil {
				t.Fatalf("%s %s: no file at %q", d.key, v.key, e.Path)
			}
			if b := readObject(t, o); b != v.content {
				t.Errorf("%s: read %q, want %q", e.Path, b, v.content)
			}
			reads++
			if o.Size() != int64(len(v.content)) {
				t.Errorf("%s: size %d, want %d", e.Path, o.Size(), len(v.content))
			}
			if want := time.Date(2026, 2, v.seq, 12, 0, 0, 0, time.UTC); !o.ModTime(context.Background()).Equal(want) {
				t.Errorf("%s: modified %v, want the version's time %v", e.Path, o.ModTime(context.Background()), want)
			}
		}
	}
	a := f.audits(t)
	if len(a) != reads {
		t.Fatalf("%d reads wrote %d audit rows: %+v", reads, len(a), a)
	}
	for _, row := range a {
		if row.Action != "serve.download" || row.Actor != "finance-bot" || row.Workspace != "finance" {
			t.Errorf("audit row %+v", row)
		}
	}
	budget := f.blobID(t, "budget final")
	if row := a[2]; row.Subject != "d-budget v3" || row.Document != "d-budget" || !strings.Contains(row.Detail, "sha256 "+budget) || !strings.Contains(row.Detail, "from 127.0.0.1") {
		t.Errorf("audit row of d-budget v3: %+v", row)
	}

	// Ranges (a client seeking in a file), forwards and back.
	o := got["finance/Budgets/2026/Budget 2026.xlsx"]
	if o == nil {
		t.Fatal("no Budget 2026.xlsx")
	}
	if b := readObject(t, o, &fs.RangeOption{Start: 7, End: 11}); b != "final" {
		t.Errorf("range 7-11: %q", b)
	}
	if b := readObject(t, o, &fs.SeekOption{Offset: 3}); b != "get final" {
		t.Errorf("from 3: %q", b)
	}
}

// TestWebDAVReadOnly: rclone's writes (a new file, a folder, a removal, a
// move, a copy) all fail, and the share, the catalog and the blobs are as
// they were.
func TestWebDAVReadOnly(t *testing.T) {
	f := newFixture(t, fixDocs)
	srv := httptest.NewServer(f.srv.Handler())
	defer srv.Close()
	ctx := context.Background()
	for _, tok := range []string{financeToken, curatorToken} {
		r := davRemote(t, srv.URL+"/dav/", tok, false)
		before, beforeDirs := davWalk(t, r, "")
		docs, err := f.cat.Documents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		blobs := 0
		f.blobs.Walk(ctx, func(dedupe.Info) error { blobs++; return nil })

		if _, err := r.Put(ctx, strings.NewReader("new"), object.NewStaticObjectInfo("finance/new.txt", time.Now(), 3, true, nil, nil)); err == nil {
			t.Error("put a new file")
		}
		if _, err := r.Put(ctx, strings.NewReader("over"), object.NewStaticObjectInfo("finance/Notes/Notes.txt", time.Now(), 4, true, nil, nil)); err == nil {
			t.Error("put over a file")
		}
		if err := r.Mkdir(ctx, "finance/New folder"); err == nil {
			t.Error("made a folder")
		}
		if err := r.Mkdir(ctx, "new workspace"); err == nil {
			t.Error("made a folder at the top")
		}
		if err := r.Rmdir(ctx, "finance/Odd"); err == nil {
			t.Error("removed a folder")
		}
		o := before["finance/Notes/Notes.txt"]
		if o == nil {
			t.Fatalf("no Notes.txt in %v", sortedKeys(before))
		}
		if err := o.Remove(ctx); err == nil {
			t.Error("removed a file")
		}
		if err := o.SetModTime(ctx, time.Now()); err == nil {
			t.Error("set a file's time")
		}
		if mv := r.Features().Move; mv != nil {
			if _, err := mv(ctx, o, "finance/moved.png"); err == nil {
				t.Error("moved a file")
			}
		}
		if cp := r.Features().Copy; cp != nil {
			if _, err := cp(ctx, o, "finance/copied.png"); err == nil {
				t.Error("copied a file")
			}
		}
		if dm := r.Features().DirMove; dm != nil {
			if err := dm(ctx, r, "finance/Odd", "finance/Even"); err == nil {
				t.Error("moved a folder")
			}
		}

		after, afterDirs := davWalk(t, r, "")
		if g, w := strings.Join(sortedKeys(after), "\n"), strings.Join(sortedKeys(before), "\n"); g != w {
			t.Errorf("the share's files changed:\n%s\nwere\n%s", g, w)
		}
		if g, w := strings.Join(sortedKeys(afterDirs), "\n"), strings.Join(sortedKeys(beforeDirs), "\n"); g != w {
			t.Errorf("the share's folders changed:\n%s\nwere\n%s", g, w)
		}
		if b := readObject(t, after["finance/Notes/Notes.txt"]); b != fixDocs[4].versions[2].content {
			t.Errorf("Notes.txt now holds %q", b)
		}
		docs2, _ := f.cat.Documents(ctx)
		blobs2 := 0
		f.blobs.Walk(ctx, func(dedupe.Info) error { blobs2++; return nil })
		if len(docs2) != len(docs) || blobs2 != blobs {
			t.Errorf("documents %d -> %d, blobs %d -> %d", len(docs), len(docs2), blobs, blobs2)
		}
	}
}

// TestWebDAVRoles: legal's token sees legal only: finance's folders and
// files are not found (the same answer as for what does not exist), by
// rclone and by plain requests, and nothing of finance is audited.
func TestWebDAVRoles(t *testing.T) {
	f := newFixture(t, fixDocs)
	srv := httptest.NewServer(f.srv.Handler())
	defer srv.Close()
	ctx := context.Background()
	legal := davRemote(t, srv.URL+"/dav/", legalToken, false)
	top, err := legal.List(ctx, "")
	if err != nil || len(top) != 1 || top[0].Remote() != "legal" {
		t.Fatalf("legal sees %v (%v), want legal only", top, err)
	}
	files, _ := davWalk(t, legal, "")
	if len(files) != 1 || files["legal/Contract.pdf"] == nil {
		t.Errorf("legal's files: %v", sortedKeys(files))
	}
	for _, dir := range []string{"finance", "FINANCE", "finance/Budgets", "finance/Budgets/.versions"} {
		if _, err := legal.List(ctx, dir); !errors.Is(err, fs.ErrorDirNotFound) {
			t.Errorf("legal lists %s: %v, want not found", dir, err)
		}
	}
	for _, p := range []string{"finance/Budgets/2026/Budget 2026.xlsx", "finance/Budgets/2026/.versions/Budget 2026.xlsx/001 2026-02-01 Budget 2026.xlsx"} {
		if _, err := legal.NewObject(ctx, p); !errors.Is(err, fs.ErrorObjectNotFound) {
			t.Errorf("legal finds %s: %v, want not found", p, err)
		}
	}
	// Both workspaces for a token with a role in each.
	both, err := davRemote(t, srv.URL+"/dav/", curatorToken, false).List(ctx, "")
	if err != nil || len(both) != 2 {
		t.Errorf("fiona sees %v (%v), want finance and legal", both, err)
	}

	for _, m := range []string{http.MethodGet, http.MethodHead, "PROPFIND"} {
		for _, p := range []string{"/dav/finance/", "/dav/finance/Budgets/2026/Budget%202026.xlsx", "/dav/nowhere/", "/dav/legal/nope.pdf"} {
			w := f.do(t, request{method: m, path: p, token: legalToken, header: map[string]string{"Depth": "1"}})
			mustCode(t, w.Code, http.StatusNotFound, "legal "+m+" "+p)
			if strings.Contains(w.Body.String(), "Budget") {
				t.Errorf("legal %s %s: the answer names the document", m, p)
			}
		}
	}
	// No credentials from another machine.
	w := f.do(t, request{method: "PROPFIND", path: "/dav/", remote: "192.0.2.7:4000", header: map[string]string{"Depth": "1"}})
	mustCode(t, w.Code, http.StatusUnauthorized, "PROPFIND without credentials")
	for _, row := range f.audits(t) {
		if row.Workspace == "finance" {
			t.Errorf("audited for legal: %+v", row)
		}
	}
}

// TestWebDAVMethods: plain requests. Every method that writes is refused
// (and changes nothing); OPTIONS says class 1 (no locks) and read
// methods; a listing of everything below is refused; GET of a file is an
// audited attachment that is never sniffed, with ranges served from
// either kind of blob store (one that seeks, one that is read again).
func TestWebDAVMethods(t *testing.T) {
	f := newFixture(t, fixDocs)
	file := "/dav/finance/Notes/Notes.txt"
	want := fixDocs[4].versions[2].content
	for _, m := range []string{http.MethodPut, http.MethodDelete, "MKCOL", "MOVE", "COPY", "PROPPATCH", "LOCK", "UNLOCK", http.MethodPost, http.MethodPatch} {
		for _, p := range []string{file, "/dav/finance/Notes/", "/dav/finance/new.txt", "/dav/", "/dav/new/"} {
			w := f.do(t, request{method: m, path: p, token: curatorToken, body: strings.NewReader("<x/>"),
				header: map[string]string{"Destination": "http://127.0.0.1:8380/dav/finance/moved.png", "Overwrite": "T"}})
			if w.Code != http.StatusForbidden && w.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 403 or 405", m, p, w.Code)
			}
		}
	}
	if a := f.audits(t); len(a) != 0 {
		t.Errorf("refused writes audited %+v", a)
	}
	w := f.do(t, request{method: http.MethodOptions, path: "/dav/finance/", token: financeToken})
	mustCode(t, w.Code, 200, "OPTIONS")
	if h := w.Header(); h.Get("DAV") != "1" || strings.Contains(h.Get("Allow"), "PUT") || !strings.Contains(h.Get("Allow"), "PROPFIND") {
		t.Errorf("OPTIONS headers %v", h)
	}
	for _, depth := range []string{"", "infinity"} {
		w := f.do(t, request{method: "PROPFIND", path: "/dav/", token: financeToken, header: map[string]string{"Depth": depth}})
		mustCode(t, w.Code, http.StatusForbidden, "PROPFIND Depth "+depth)
	}
	w = f.do(t, request{method: "PROPFIND", path: "/dav/finance/Notes/", token: financeToken, header: map[string]string{"Depth": "1"}})
	mustCode(t, w.Code, http.StatusMultiStatus, "PROPFIND Depth 1")
	for _, s := range []string{"/dav/finance/Notes/Notes.txt", "/dav/finance/Notes/.versions/", "<D:getcontentlength>" + fmt.Sprint(len(want)) + "</D:getcontentlength>"} {
		if !strings.Contains(w.Body.String(), s) {
			t.Errorf("PROPFIND Depth 1 lacks %s:\n%s", s, w.Body)
		}
	}

	disk, err := dedupe.OpenDisk(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	for _, d := range fixDocs {
		for _, v := range d.versions {
			if _, err := disk.Put(context.Background(), strings.NewReader(v.content)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := disk.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, store := range []Blobs{f.blobs, disk} {
		f.srv.Blobs = store
		audited := len(f.audits(t))
		w := f.do(t, request{path: file, token: financeToken})
		mustCode(t, w.Code, 200, "GET")
		if w.Body.String() != want {
			t.Errorf("GET: %q", w.Body)
		}
		h := w.Header()
		if h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || h.Get("ETag") != `"`+f.blobID(t, want)+`"` {
			t.Errorf("GET headers %v", h)
		}
		for rng, part := range map[string]string{"bytes=4-7": want[4:8], "bytes=-4": want[len(want)-4:], "bytes=10-": want[10:]} {
			w := f.do(t, request{path: file, token: financeToken, header: map[string]string{"Range": rng}})
			mustCode(t, w.Code, http.StatusPartialContent, "GET Range "+rng)
			if w.Body.String() != part {
				t.Errorf("Range %s: %q, want %q", rng, w.Body, part)
			}
		}
		// Two ranges, the second before the first: the blob is read
		// again (or sought) from the start.
		w = f.do(t, request{path: file, token: financeToken, header: map[string]string{"Range": "bytes=10-13,1-3"}})
		mustCode(t, w.Code, http.StatusPartialContent, "GET two ranges")
		if b := w.Body.String(); !strings.Contains(b, want[10:14]) || !strings.Contains(b, want[1:4]) || strings.Index(b, want[1:4]) < strings.Index(b, want[10:14]) {
			t.Errorf("two ranges: %q", b)
		}
		head := f.do(t, request{method: http.MethodHead, path: file, token: financeToken})
		mustCode(t, head.Code, 200, "HEAD")
		if head.Header().Get("Content-Length") != fmt.Sprint(len(want)) {
			t.Errorf("HEAD headers %v", head.Header())
		}
		if n := len(f.audits(t)) - audited; n != 5 {
			t.Errorf("5 GETs and a HEAD wrote %d audit rows, want 5", n)
		}
	}
	// A file name with every kind of character the export keeps, by its
	// escaped URL.
	hostile := "/dav/finance/" + pathEscapeSegments(engine.SafePath(hostileFolder)) + "/" + url.PathEscape(engine.SafeName(hostileName))
	w = f.do(t, request{path: hostile, token: financeToken})
	mustCode(t, w.Code, 200, "GET "+hostile)
	if w.Body.String() != fixDocs[3].versions[1].content {
		t.Errorf("GET %s: %q", hostile, w.Body)
	}
	// Matched case-insensitively, as the export claims names.
	w = f.do(t, request{path: "/dav/FINANCE/notes/NOTES.TXT", token: financeToken})
	mustCode(t, w.Code, 200, "GET in another case")
	// The audit log cannot be written: nothing is sent.
	if _, err := f.cat.DB().Exec(`CREATE TRIGGER test_no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no audit'); END`); err != nil {
		t.Fatal(err)
	}
	w = f.do(t, request{path: file, token: financeToken})
	mustCode(t, w.Code, http.StatusServiceUnavailable, "GET when the audit log cannot be written")
	if strings.Contains(w.Body.String(), want) {
		t.Errorf("GET without its audit row sent the file")
	}
	// Listing is not a download: it goes on.
	w = f.do(t, request{method: "PROPFIND", path: "/dav/finance/Notes/", token: financeToken, header: map[string]string{"Depth": "1"}})
	mustCode(t, w.Code, http.StatusMultiStatus, "PROPFIND when the audit log cannot be written")
}
