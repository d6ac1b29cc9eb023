package report

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

func joinPath(folder, name string) string {
	if folder == "" {
		return name
	}
	return path.Join(folder, name)
}

// buildDocuments reads the catalog's documents one at a time, in key
// order (one pass over each table), keeping totals, the folder trees and
// the first few documents, forks and conflicts in the report's order (most
// versions, then most copies, first) for the page; the list itself is
// read again from the catalog, in that order, when the report is written.
// Reading this first pass in the report's order too, a few index lookups a
// document, was a third of a plan's time.
func (b *builder) buildDocuments() error {
	tree := newTreeAcc()
	top := firstN[Document]{n: htmlDocuments}
	forks := firstN[Fork]{n: htmlConflicts}
	conflicts := firstN[Conflict]{n: htmlConflicts}
	var nForks, nConflicts int64
	err := b.eachDocumentByKey(func(doc Document, fs []Fork, conflict *Conflict) error {
		r := rankOf(&doc)
		for i, f := range fs {
			nForks++
			forks.add(r, i, f)
		}
		if conflict != nil {
			nConflicts++
			conflicts.add(r, 0, *conflict)
		}
		tree.add(doc)
		t := &b.docTotals
		t.Documents++
		t.Versions += int64(len(doc.Versions))
		switch doc.Change {
		case ChangeNew:
			t.NewDocuments++
		case ChangeUpdated:
			t.ChangedDocs++
		}
		top.add(r, 0, doc)
		return nil
	})
	if err != nil {
		return err
	}
	return b.finishDocuments(tree, top.list(), forks.list(), conflicts.list(), nForks, nConflicts)
}

// docRank is a document's place in the report's order: most versions,
// then most copies, first; then workspace, path and id. It is the order
// of workspace.Catalog.EachDocumentByVersions, which counts a document's
// copies as its version_sightings rows: each names a stored sighting
// (sightings are never deleted), so that is Copies here.
type docRank struct {
	versions, copies int
	ws, path, id     string
}

func rankOf(d *Document) docRank {
	return docRank{versions: len(d.Versions), copies: d.Copies, ws: d.Workspace, path: d.Path, id: d.ID}
}

func (a docRank) compare(b docRank) int {
	return cmp.Or(cmp.Compare(b.versions, a.versions), cmp.Compare(b.copies, a.copies),
		strings.Compare(a.ws, b.ws), strings.Compare(a.path, b.path), strings.Compare(a.id, b.id))
}

// firstN keeps the first n things in the report's order (their
// document's rank, then their place in the document) of those added in
// any order: at most 2n held.
type firstN[T any] struct {
	n    int
	held []ranked[T]
}

type ranked[T any] struct {
	rank docRank
	i    int
	v    T
}

func (f *firstN[T]) add(r docRank, i int, v T) {
	f.held = append(f.held, ranked[T]{r, i, v})
	if len(f.held) >= 2*f.n {
		f.trim()
	}
}

func (f *firstN[T]) trim() {
	slices.SortFunc(f.held, func(x, y ranked[T]) int { return cmp.Or(x.rank.compare(y.rank), cmp.Compare(x.i, y.i)) })
	clear(f.held[min(f.n, len(f.held)):])
	f.held = f.held[:min(f.n, len(f.held))]
}

// list returns the first n, in order.
func (f *firstN[T]) list() []T {
	f.trim()
	out := make([]T, len(f.held))
	for i, h := range f.held {
		out[i] = h.v
	}
	return out
}

// finishDocuments sets the report's document, fork and conflict lists:
// the first few held, the rest read again when written.
func (b *builder) finishDocuments(tree *treeAcc, top []Document, forks []Fork, conflicts []Conflict, nForks, nConflicts int64) error {
	b.rep.Workspaces = tree.workspaces()
	b.rep.Documents = DocumentList{Top: top, Len: b.docTotals.Documents, each: func(fn func(Document) error) error {
		return b.eachDocument(func(d Document, _ []Fork, _ *Conflict) error { return fn(d) })
	}}
	b.rep.Forks = List[Fork]{Top: forks, Len: nForks}
	if nForks > int64(len(forks)) {
		b.rep.Forks.each = func(fn func(Fork) error) error {
			return b.eachDocument(func(_ Document, fs []Fork, _ *Conflict) error {
				for _, f := range fs {
					if err := fn(f); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	b.rep.Conflicts = List[Conflict]{Top: conflicts, Len: nConflicts}
	if nConflicts > int64(len(conflicts)) {
		b.rep.Conflicts.each = func(fn func(Conflict) error) error {
			return b.eachDocument(func(_ Document, _ []Fork, c *Conflict) error {
				if c == nil {
					return nil
				}
				return fn(*c)
			})
		}
	}
	return nil
}

// eachDocumentByKey streams the catalog's documents in key order, with
// each one's forks and conflict.
func (b *builder) eachDocumentByKey(fn func(Document, []Fork, *Conflict) error) error {
	err := b.cat.EachDocumentSightings(b.ctx, workspace.DocFilter{}, func(d workspace.Document, ss []workspace.Sighting) error {
		return fn(b.documentOf(d, ss))
	})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// documentOf is the report's document of a catalog document and its
// sightings, with its forks and conflict.
func (b *builder) documentOf(d workspace.Document, ss []workspace.Sighting) (Document, []Fork, *Conflict) {
	byID := make(map[int64]workspace.Sighting, len(ss))
	for _, s := range ss {
		byID[s.ID] = s
	}
	doc := b.document(d, byID)
	forks, conflict := forksOf(&doc)
	return doc, forks, conflict
}

// eachDocument streams the report's documents from the catalog in their
// order, with each one's forks and conflict.
func (b *builder) eachDocument(fn func(Document, []Fork, *Conflict) error) error {
	err := b.cat.EachDocumentByVersions(b.ctx, func(d workspace.Document, ss []workspace.Sighting) error {
		return fn(b.documentOf(d, ss))
	})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func (b *builder) document(d workspace.Document, sightings map[int64]workspace.Sighting) Document {
	doc := Document{ID: d.Key, Workspace: d.Workspace, Folder: d.Folder, Name: d.Name, Path: joinPath(d.Folder, d.Name),
		Sources: []string{}, Versions: []Version{}}
	seq := map[string]int{}
	for _, v := range d.Versions {
		seq[v.Key] = v.Seq
	}
	anyNew, allNew := false, true
	for _, v := range d.Versions {
		ver := Version{ID: v.Key, Seq: v.Seq, SHA256: v.Blob.String(), Time: v.Time, Author: v.Author, New: true,
			Parents: []Link{}, Seen: []Place{}}
		for _, l := range v.Parents {
			ver.Parents = append(ver.Parents, Link{Parent: l.Parent, ParentSeq: seq[l.Parent], Reason: l.Reason, Why: LinkWhy(l.Reason), Confidence: l.Confidence})
		}
		slices.SortFunc(ver.Parents, func(x, y Link) int { return cmp.Compare(x.ParentSeq, y.ParentSeq) })
		for _, sid := range v.Sightings {
			s, ok := sightings[sid]
			if !ok {
				continue
			}
			p := b.placeOf(s)
			ver.Seen = append(ver.Seen, p)
			ver.Size = s.Size
			ver.New = ver.New && p.New
			anyNew = anyNew || p.New
			if !slices.Contains(doc.Sources, s.Source) {
				doc.Sources = append(doc.Sources, s.Source)
			}
		}
		sortPlaces(ver.Seen)
		allNew = allNew && ver.New
		doc.Copies += len(ver.Seen)
		doc.Versions = append(doc.Versions, ver)
	}
	slices.Sort(doc.Sources)
	switch {
	case allNew && len(doc.Versions) > 0:
		doc.Change = ChangeNew
	case anyNew:
		doc.Change = ChangeUpdated
	default:
		doc.Change = ChangeUnchanged
	}
	if n := len(doc.Versions); n > 0 {
		last := doc.Versions[n-1]
		doc.LatestAt, doc.LatestBy, doc.TotalSize = last.Time, last.Author, last.Size
	}
	return doc
}

func sortPlaces(ps []Place) {
	slices.SortFunc(ps, func(x, y Place) int {
		return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.Source, y.Source), cmp.Compare(x.Ref, y.Ref))
	})
}

// forksOf counts the document's forks (a version with two or more
// children) and heads, and returns the forks and, when it has more than
// one latest version, its conflict.
func forksOf(d *Document) ([]Fork, *Conflict) {
	children := map[string][]int{}
	for _, v := range d.Versions {
		for _, l := range v.Parents {
			children[l.Parent] = append(children[l.Parent], v.Seq)
		}
	}
	var heads []Head
	var forks []Fork
	for _, v := range d.Versions {
		kids := children[v.ID]
		if len(kids) >= 2 {
			slices.Sort(kids)
			forks = append(forks, Fork{Document: d.ID, Path: d.Path, Version: v.ID, Seq: v.Seq, Children: kids})
		}
		if len(kids) == 0 {
			h := Head{Seq: v.Seq, Time: v.Time, Author: v.Author}
			if len(v.Seen) > 0 {
				h.Where = v.Seen[len(v.Seen)-1].Where
			}
			heads = append(heads, h)
		}
	}
	d.Heads, d.Forks = len(heads), len(forks)
	if len(heads) >= 2 {
		return forks, &Conflict{Document: d.ID, Path: d.Path, Heads: heads}
	}
	return forks, nil
}

// placeOf describes one sighting for people.
func (b *builder) placeOf(s workspace.Sighting) Place {
	l := s.Lineage
	p := Place{Source: s.Source, Kind: s.Kind, Ref: s.Ref, Name: s.Name, Time: s.Time, Author: s.Author, New: b.inRun[s.RunID]}
	switch s.Kind {
	case history.KindMail:
		p.Mailbox, p.Subject, p.From, p.MessageID = l.Mailbox, l.Subject, l.From, l.MessageID
		p.Where = fmt.Sprintf("%s: mailbox %s, message “%s” from %s", s.Source, l.Mailbox, l.Subject, orUnknown(l.From))
		if l.InnerSubject != "" {
			p.Where += fmt.Sprintf(" (forwarded “%s”)", l.InnerSubject)
		}
		p.Where += ", attachment " + s.Name
	case history.KindSharePoint:
		p.Site, p.Library, p.ItemID, p.VersionID = l.Site, l.DriveName, l.ItemID, l.VersionID
		p.Path = joinPath(s.Path, s.Name)
		p.Where = fmt.Sprintf("%s: SharePoint %s / %s: %s", s.Source, orUnknown(l.Site), orUnknown(l.DriveName), p.Path)
		if l.VersionID != "" {
			p.Where += ", version " + l.VersionID
		}
	default:
		p.Path = joinPath(s.Path, s.Name)
		p.Where = s.Source + ": " + p.Path
	}
	if !s.Gone.IsZero() {
		p.Gone = s.Gone
		p.Where += " (no longer at the source since " + s.Gone.UTC().Format("2006-01-02") + ")"
	}
	return p
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// treeAcc adds up each workspace's folder tree as documents go by.
type treeAcc struct {
	wss map[string]*wsAcc
}

type wsAcc struct {
	ws      Workspace
	folders map[string]*Folder
}

func newTreeAcc() *treeAcc { return &treeAcc{wss: map[string]*wsAcc{}} }

func (t *treeAcc) add(d Document) {
	a := t.wss[d.Workspace]
	if a == nil {
		a = &wsAcc{ws: Workspace{Name: d.Workspace}, folders: map[string]*Folder{"": {Path: ""}}}
		t.wss[d.Workspace] = a
	}
	a.ws.Documents++
	a.ws.Versions += int64(len(d.Versions))
	f := strings.Trim(d.Folder, "/")
	for _, anc := range ancestors(f) {
		fo := a.folders[anc]
		if fo == nil {
			fo = &Folder{Path: anc, Depth: strings.Count(anc, "/") + 1}
			a.folders[anc] = fo
		}
		fo.Total++
	}
	a.folders[f].Documents++
	if d.Change == ChangeNew {
		a.folders[f].New++
	}
}

// workspaces is each workspace's folder tree, parents before children.
func (t *treeAcc) workspaces() []Workspace {
	out := []Workspace{}
	for _, a := range t.wss {
		for _, f := range a.folders {
			a.ws.Folders = append(a.ws.Folders, *f)
		}
		slices.SortFunc(a.ws.Folders, func(x, y Folder) int {
			return slices.Compare(strings.Split(x.Path, "/"), strings.Split(y.Path, "/"))
		})
		out = append(out, a.ws)
	}
	slices.SortFunc(out, func(x, y Workspace) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

// ancestors lists "" and every prefix of folder, ending with folder.
func ancestors(folder string) []string {
	out := []string{""}
	if folder == "" {
		return out
	}
	parts := strings.Split(folder, "/")
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "/"))
	}
	return out
}

// buildDuplicates lists the contents these runs saw that the store holds
// in more than one place, biggest savings first, with every place each
// is seen (its sightings, read through the blob index). It holds the
// groups the page shows; the list is read again when written.
func (b *builder) buildDuplicates() error {
	var top []DupGroup
	var n int64
	err := b.eachDuplicate(func(workspace.DupContent) bool {
		n++
		return len(top) < htmlDuplicates
	}, func(g DupGroup) error {
		top = append(top, g)
		return nil
	})
	if err != nil {
		return err
	}
	b.rep.Duplicates = List[DupGroup]{Top: top, Len: n, each: func(fn func(DupGroup) error) error {
		return b.eachDuplicate(func(workspace.DupContent) bool { return true }, fn)
	}}
	return nil
}

// eachDuplicate walks the duplicated contents in order; for those want
// says yes to, it reads the places and calls fn with the group.
func (b *builder) eachDuplicate(want func(workspace.DupContent) bool, fn func(DupGroup) error) error {
	if len(b.refs) == 0 {
		return nil
	}
	return b.cat.ReportDuplicates(b.ctx, b.refs, func(d workspace.DupContent) error {
		if !want(d) {
			return nil
		}
		id, err := dedupe.ParseID(d.Blob)
		if err != nil {
			return fmt.Errorf("report: duplicate content %q: %w", d.Blob, err)
		}
		g := DupGroup{SHA256: d.Blob, Size: d.Size}
		err = b.cat.SightingsOfBlob(b.ctx, id, func(s workspace.Sighting) error {
			g.Places = append(g.Places, b.placeOf(s))
			return nil
		})
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		sortPlaces(g.Places)
		g.Copies = len(g.Places)
		g.SavedBytes = g.Size * int64(g.Copies-1)
		return fn(g)
	})
}
