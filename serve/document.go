package serve

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// versionView is a version as the document page shows it.
type versionView struct {
	workspace.Version
	Label    string // "version 3"
	Name     string // the file name it was seen under first (its download's name)
	Size     int64
	Places   []place
	Parents  []parentView
	Head     bool // no later version descends from it
	Selected bool // the version the link named
}

type parentView struct {
	Key, Label, Reason string
	Confidence         float64
}

// place is one copy of a version: where it was seen, in a person's terms.
type place struct {
	Kind    string // mail | share | sharepoint | folder...
	Source  string
	Where   string // mailbox, share path or library path
	Name    string
	From    string
	Subject string
	Date    time.Time
	Version string // SharePoint version label
	Gone    time.Time
}

// docView is a document with its versions in order (seq, then key) and
// what is current.
type docView struct {
	workspace.Document
	Versions []*versionView
	Heads    []*versionView // the current version, or the parallel ones
	ByKey    map[string]*versionView
}

func newDocView(d workspace.Document, sightings []workspace.Sighting) *docView {
	seen := make(map[int64]workspace.Sighting, len(sightings))
	for _, s := range sightings {
		seen[s.ID] = s
	}
	dv := &docView{Document: d, ByKey: map[string]*versionView{}}
	for _, v := range d.Versions {
		vv := &versionView{Version: v, Label: "version " + strconv.Itoa(v.Seq)}
		for _, id := range v.Sightings {
			s, ok := seen[id]
			if !ok {
				continue
			}
			if vv.Name == "" {
				vv.Name, vv.Size = s.Name, s.Size
			}
			vv.Places = append(vv.Places, placeOf(s))
		}
		if vv.Name == "" {
			vv.Name = d.Name
		}
		dv.Versions = append(dv.Versions, vv)
		dv.ByKey[v.Key] = vv
	}
	slices.SortStableFunc(dv.Versions, func(a, b *versionView) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Key, b.Key))
	})
	parent := map[string]bool{}
	for _, vv := range dv.Versions {
		for _, l := range vv.Version.Parents {
			parent[l.Parent] = true
			pv := parentView{Key: l.Parent, Label: l.Parent, Reason: l.Reason, Confidence: l.Confidence}
			if p, ok := dv.ByKey[l.Parent]; ok {
				pv.Label = p.Label
			}
			vv.Parents = append(vv.Parents, pv)
		}
	}
	for _, vv := range dv.Versions {
		if !parent[vv.Key] {
			vv.Head = true
			dv.Heads = append(dv.Heads, vv)
		}
	}
	return dv
}

func placeOf(s workspace.Sighting) place {
	p := place{Kind: s.Kind, Source: s.Source, Name: s.Name, Date: s.Time, Gone: s.Gone}
	l := s.Lineage
	switch s.Kind {
	case "mail":
		p.Where = l.Account + " " + l.Mailbox
		p.From, p.Subject = l.From, l.Subject
		if !l.Date.IsZero() {
			p.Date = l.Date
		}
	case "sharepoint":
		p.Where = path.Join(l.DriveName, s.Path)
		if l.VersionIndex > 0 {
			p.Version = strconv.Itoa(l.VersionIndex) + ".0"
			if l.Current {
				p.Version += " (current)"
			}
		}
	default:
		p.Where = s.Path
	}
	return p
}

// visibleDocument reads a document the principal may see; nil (after a
// 404) when there is none or they may not.
func (s *Server) visibleDocument(w http.ResponseWriter, r *http.Request, p *Principal, key string) *docView {
	d, sightings, ok, err := s.Cat.DocumentByKey(r.Context(), key)
	if err != nil {
		s.internal(w, r, err)
		return nil
	}
	if !ok || p.Role(d.Workspace) < Viewer {
		// The same answer whether it does not exist or is not theirs.
		s.fail(w, r, http.StatusNotFound, "no such document")
		return nil
	}
	return newDocView(d, sightings)
}

func (s *Server) document(w http.ResponseWriter, r *http.Request, p *Principal) {
	dv := s.visibleDocument(w, r, p, r.PathValue("doc"))
	if dv == nil {
		return
	}
	var sel *versionView
	if k := r.PathValue("ver"); k != "" {
		if sel = dv.ByKey[k]; sel == nil {
			s.fail(w, r, http.StatusNotFound, "this document has no such version")
			return
		}
		sel.Selected = true
	}
	subject := dv.Key
	if sel != nil {
		subject += " " + sel.Key
	}
	if s.audit(r, p, "serve.view", subject, "", dv.Workspace, dv.Key) != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing is shown")
		return
	}
	s.render(w, r, "document.html", map[string]any{
		"Title":    dv.Name,
		"Who":      p,
		"Doc":      dv,
		"Selected": sel,
		"Crumbs":   crumbs(dv.Workspace, dv.Folder),
		"Graph":    layoutDAG(dv),
		"Curator":  p.Role(dv.Workspace) >= Curator,
	})
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, p *Principal) {
	dv := s.visibleDocument(w, r, p, r.PathValue("doc"))
	if dv == nil {
		return
	}
	v := dv.ByKey[r.PathValue("ver")]
	if v == nil {
		s.fail(w, r, http.StatusNotFound, "this document has no such version")
		return
	}
	rc, err := s.Blobs.Open(r.Context(), v.Blob)
	if err != nil {
		s.internal(w, r, fmt.Errorf("open %s: %w", v.Blob.Short(), err))
		return
	}
	defer rc.Close()
	if s.audit(r, p, "serve.download", dv.Key+" "+v.Key, "sha256 "+v.Blob.String(), dv.Workspace, dv.Key) != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing is downloaded")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", attachment(engine.SafeName(v.Name)))
	if v.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(v.Size, 10))
	}
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(v.Blob[:])+":")
	if _, err := io.Copy(w, dedupe.ContextReader(r.Context(), rc)); err != nil {
		// Headers are gone: the cut connection is the client's error.
		s.logger().Warn("serve: download cut short", "document", dv.Key, "version", v.Key, "err", err)
	}
}

// crumb is a link in the folder trail.
type crumb struct{ Name, Href string }

func crumbs(ws, folder string) []crumb {
	out := []crumb{{ws, "/w/" + pathEscapeSegments(ws)}}
	if folder == "" {
		return out
	}
	acc := ""
	for _, seg := range splitFolder(folder) {
		acc = path.Join(acc, seg)
		out = append(out, crumb{seg, "/w/" + pathEscapeSegments(ws) + "/f/" + pathEscapeSegments(acc)})
	}
	return out
}
