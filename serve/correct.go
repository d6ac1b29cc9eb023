package serve

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/history"
)

// Corrector records a curator's correction of the history (a pin: merge,
// split or relink, as `syncd history merge|split|relink`) and rebuilds
// what it changes. blobs[0] is the correction's subject: for relink the
// version, then its parents.
type Corrector func(ctx context.Context, kind string, blobs []dedupe.ID, actor, note string) error

// correct handles the document page's correction forms (curators only;
// cross-origin posts are refused before this runs).
func (s *Server) correct(w http.ResponseWriter, r *http.Request, p *Principal) {
	dv := s.visibleDocument(w, r, p, r.PathValue("doc"))
	if dv == nil {
		return
	}
	if p.Role(dv.Workspace) < Curator {
		s.fail(w, r, http.StatusForbidden, "corrections are for the workspace's curators and admins")
		return
	}
	if s.Correct == nil {
		s.fail(w, r, http.StatusNotImplemented, "this server does not take corrections")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "the form did not arrive whole")
		return
	}
	f := r.PostForm
	kind, note := f.Get("kind"), strings.TrimSpace(f.Get("note"))
	blobOf := func(key string) (dedupe.ID, bool) {
		v, ok := dv.ByKey[key]
		if !ok {
			return dedupe.ID{}, false
		}
		return v.Blob, true
	}
	var blobs []dedupe.ID
	bad := ""
	switch kind {
	case history.PinRelink:
		b, ok := blobOf(f.Get("version"))
		if !ok {
			bad = "choose the version to relink"
			break
		}
		blobs = append(blobs, b)
		for _, k := range f["parent"] {
			pb, ok := blobOf(k)
			if !ok || k == f.Get("version") {
				bad = "a version cannot be made from itself or from a version of another document"
				break
			}
			blobs = append(blobs, pb)
		}
	case history.PinSplit:
		for _, k := range f["version"] {
			b, ok := blobOf(k)
			if !ok {
				bad = "choose versions of this document"
				break
			}
			blobs = append(blobs, b)
		}
		if len(blobs) == 0 && bad == "" {
			bad = "choose the versions that form a document of their own"
		}
		if len(blobs) == len(dv.Versions) && bad == "" {
			bad = "splitting every version off changes nothing: choose some"
		}
	case history.PinMerge:
		other := otherDocKey(f.Get("other"))
		if other == "" || other == dv.Key {
			bad = "give the link of the other document"
			break
		}
		od := s.visibleDocument(w, r, p, other)
		if od == nil {
			return // 404 answered: no such document, or not theirs
		}
		if p.Role(od.Workspace) < Curator {
			s.fail(w, r, http.StatusForbidden, "you are not a curator of the other document's workspace")
			return
		}
		blobs = append(blobs, dv.Heads[0].Blob, od.Versions[0].Blob)
	default:
		bad = "unknown correction"
	}
	if bad != "" {
		s.fail(w, r, http.StatusBadRequest, bad)
		return
	}
	ids := make([]string, len(blobs))
	for i, b := range blobs {
		ids[i] = b.Short()
	}
	detail := kind + " " + strings.Join(ids, " ")
	if note != "" {
		detail += " " + fmt.Sprintf("%q", note)
	}
	if s.audit(r, p, "serve.correct", dv.Key, detail, dv.Workspace, dv.Key) != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing is changed")
		return
	}
	if err := s.Correct(r.Context(), kind, blobs, p.Name, note); err != nil {
		s.internal(w, r, err)
		return
	}
	// The rebuild may have given the content another document (a split
	// makes a new one): follow the correction's subject.
	to := docHref(dv.Key)
	if refs, err := s.Cat.VersionsOfBlob(r.Context(), blobs[0]); err == nil && len(refs) > 0 {
		to = docHref(refs[0].Document)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// otherDocKey reads a document's key from what a curator pasted: its
// link (http://host/d/KEY or /d/KEY/v/...) or the key itself.
func otherDocKey(s string) string {
	s = strings.TrimSpace(s)
	if u, err := url.Parse(s); err == nil && u.Path != "" {
		s = u.Path
	}
	if i := strings.Index(s, "/d/"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	if k, err := url.PathUnescape(s); err == nil {
		s = k
	}
	return s
}
