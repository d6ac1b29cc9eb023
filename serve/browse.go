package serve

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/workspace"
)

func pathEscapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func splitFolder(f string) []string {
	if f == "" {
		return nil
	}
	return strings.Split(f, "/")
}

func docHref(key string) string { return "/d/" + url.PathEscape(key) }

// visibleWorkspaces lists the workspaces p may see, with their counts.
func (s *Server) visibleWorkspaces(r *http.Request, p *Principal) ([]workspace.NameCount, error) {
	all, err := s.Cat.WorkspaceCounts(r.Context())
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, w := range all {
		if p.Role(w.Name) >= Viewer {
			out = append(out, w)
		}
	}
	return out, nil
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, p *Principal) {
	wss, err := s.visibleWorkspaces(r, p)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type row struct {
		Name, Href string
		N          int
	}
	var rows []row
	for _, ws := range wss {
		rows = append(rows, row{ws.Name, "/w/" + url.PathEscape(ws.Name), ws.N})
	}
	s.render(w, r, "home.html", map[string]any{"Title": "Workspaces", "Who": p, "Workspaces": rows})
}

// subfolder is a folder's child in a listing: its documents counted with
// everything below it.
type subfolder struct {
	Name, Href string
	N          int
}

func (s *Server) folder(w http.ResponseWriter, r *http.Request, p *Principal) {
	ws := r.PathValue("ws")
	folder := strings.Trim(r.PathValue("folder"), "/")
	if p.Role(ws) < Viewer {
		s.fail(w, r, http.StatusNotFound, "no such workspace")
		return
	}
	counts, err := s.Cat.FolderCounts(r.Context(), ws, folder)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if len(counts) == 0 {
		s.fail(w, r, http.StatusNotFound, "no such folder")
		return
	}
	var subs []subfolder
	idx := map[string]int{}
	for _, c := range counts {
		if c.Name == folder {
			continue
		}
		rel := c.Name
		if folder != "" {
			rel = strings.TrimPrefix(c.Name, folder+"/")
		}
		child, _, _ := strings.Cut(rel, "/")
		i, ok := idx[child]
		if !ok {
			i = len(subs)
			idx[child] = i
			full := child
			if folder != "" {
				full = folder + "/" + child
			}
			subs = append(subs, subfolder{Name: child, Href: "/w/" + url.PathEscape(ws) + "/f/" + pathEscapeSegments(full)})
		}
		subs[i].N += c.N
	}
	slices.SortFunc(subs, func(a, b subfolder) int { return cmp.Compare(a.Name, b.Name) })
	q := r.URL.Query()
	docs, err := s.Cat.DocumentsInFolder(r.Context(), ws, folder, q.Get("after"), q.Get("afterkey"), s.pageSize()+1)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	next := ""
	if len(docs) > s.pageSize() {
		docs = docs[:s.pageSize()]
		last := docs[len(docs)-1]
		next = "?" + url.Values{"after": {last.Name}, "afterkey": {last.Key}}.Encode()
	}
	title := ws
	if folder != "" {
		title = folder
	}
	s.render(w, r, "folder.html", map[string]any{
		"Title": title, "Who": p, "Crumbs": crumbs(ws, folder), "Folders": subs,
		"Docs": docRows(docs), "Next": next, "Curator": p.Role(ws) >= Curator,
		"AuditHref": "/w/" + url.PathEscape(ws) + "/audit",
	})
}

type docRow struct {
	workspace.DocSummary
	Href string
}

func docRows(ds []workspace.DocSummary) []docRow {
	out := make([]docRow, len(ds))
	for i, d := range ds {
		out[i] = docRow{d, docHref(d.Key)}
	}
	return out
}

func (s *Server) pageSize() int {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return 100
}

// searchKinds are the kinds of place a search can be narrowed to.
var searchKinds = []struct{ Value, Label string }{{"mail", "mail attachments"}, {"share", "shared drives"}, {"sharepoint", "SharePoint"}}

func (s *Server) search(w http.ResponseWriter, r *http.Request, p *Principal) {
	form := r.URL.Query()
	q := workspace.Search{Text: strings.TrimSpace(form.Get("q")), Kind: form.Get("kind"), Sender: strings.TrimSpace(form.Get("sender")),
		From: form.Get("from"), To: form.Get("to"), Limit: s.pageSize()}
	want := form.Get("ws")
	wss, err := s.visibleWorkspaces(r, p)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, ws := range wss {
		if want == "" || ws.Name == want {
			q.Workspaces = append(q.Workspaces, ws.Name)
		}
	}
	for _, d := range []string{q.From, q.To} {
		if _, err := time.Parse("2006-01-02", d); d != "" && err != nil {
			s.fail(w, r, http.StatusBadRequest, "give dates as YYYY-MM-DD")
			return
		}
	}
	if q.Kind != "" && !slices.ContainsFunc(searchKinds, func(k struct{ Value, Label string }) bool { return k.Value == q.Kind }) {
		s.fail(w, r, http.StatusBadRequest, "unknown kind of place")
		return
	}
	searched := q.Text != "" || q.Kind != "" || q.Sender != "" || q.From != "" || q.To != ""
	var hits []workspace.DocSummary
	if searched {
		detail := strconv.Quote(q.Text)
		for _, f := range [][2]string{{"kind", q.Kind}, {"sender", q.Sender}, {"from", q.From}, {"to", q.To}} {
			if f[1] != "" {
				detail += " " + f[0] + "=" + strconv.Quote(f[1])
			}
		}
		if s.audit(r, p, "serve.search", want, detail, want, "") != nil {
			s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing is searched")
			return
		}
		if hits, err = s.Cat.Search(r.Context(), q); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	s.render(w, r, "search.html", map[string]any{
		"Title": "Search", "Who": p, "Q": q, "WS": want, "Workspaces": wss, "Kinds": searchKinds,
		"Hits": docRows(hits), "Searched": searched, "Full": len(hits) == s.pageSize(),
	})
}

func (s *Server) checkForm(w http.ResponseWriter, r *http.Request, p *Principal) {
	s.render(w, r, "check.html", map[string]any{"Title": "Is this the current version?", "Who": p})
}

// checkAnswer is what "is this the current version?" found for one
// document holding the content.
type checkAnswer struct {
	Doc     *docView
	Href    string
	Version *versionView
	Current bool           // it is the one current version
	Newer   []*versionView // the current version(s) it is not
}

func (s *Server) maxUpload() int64 {
	if s.MaxUpload > 0 {
		return s.MaxUpload
	}
	return 1 << 30
}

// check hashes the file in the request as it arrives (nothing is stored)
// and finds the documents and versions that hold the same content.
func (s *Server) check(w http.ResponseWriter, r *http.Request, p *Principal) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxUpload()+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "send the file as a form upload (multipart/form-data, field \"file\")")
		return
	}
	var sums dedupe.Sums
	name := ""
	found := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.uploadFailed(w, r, err)
			return
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		name = part.FileName()
		if sums, err = dedupe.HashReader(part); err != nil {
			s.uploadFailed(w, r, err)
			return
		}
		found = true
		break
	}
	if !found {
		s.fail(w, r, http.StatusBadRequest, "choose a file to check")
		return
	}
	refs, err := s.Cat.VersionsOfBlob(r.Context(), sums.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var answers []checkAnswer
	for _, ref := range refs {
		if len(answers) > 0 && answers[len(answers)-1].Doc.Key == ref.Document {
			continue
		}
		d, sightings, ok, err := s.Cat.DocumentByKey(r.Context(), ref.Document)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if !ok || p.Role(d.Workspace) < Viewer {
			continue
		}
		dv := newDocView(d, sightings)
		a := checkAnswer{Doc: dv, Href: docHref(dv.Key), Version: dv.ByKey[ref.Version]}
		for _, h := range dv.Heads {
			if h.Key == ref.Version {
				a.Current = len(dv.Heads) == 1
			} else {
				a.Newer = append(a.Newer, h)
			}
		}
		answers = append(answers, a)
	}
	result := "unknown"
	switch {
	case len(answers) == 0:
	case answers[0].Current:
		result = "current"
	default:
		result = "not current"
	}
	ws, doc := "", ""
	if len(answers) > 0 {
		ws, doc = answers[0].Doc.Workspace, answers[0].Doc.Key
	}
	if s.audit(r, p, "serve.check", sums.ID.String(), strconv.Quote(name)+" "+result, ws, doc) != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing is answered")
		return
	}
	s.render(w, r, "check.html", map[string]any{
		"Title": "Is this the current version?", "Who": p, "Checked": true, "FileName": name,
		"SHA256": sums.ID.String(), "Size": sums.Size, "Answers": answers,
	})
}

func (s *Server) uploadFailed(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.fail(w, r, http.StatusRequestEntityTooLarge, "the file is larger than this server checks ("+report.HumanBytes(s.maxUpload())+")")
		return
	}
	s.fail(w, r, http.StatusBadRequest, "the upload did not arrive whole; try again")
}
