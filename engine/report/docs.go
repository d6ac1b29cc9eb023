package report

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

func joinPath(folder, name string) string {
	if folder == "" {
		return name
	}
	return path.Join(folder, name)
}

// buildDocuments turns the catalog's documents into the report's, most
// versions and most copies first.
func (b *builder) buildDocuments() {
	out := make([]Document, 0, len(b.docs))
	for _, d := range b.docs {
		out = append(out, b.document(d))
	}
	slices.SortStableFunc(out, func(x, y Document) int {
		return cmp.Or(-cmp.Compare(len(x.Versions), len(y.Versions)), -cmp.Compare(x.Copies, y.Copies),
			cmp.Compare(x.Workspace, y.Workspace), cmp.Compare(x.Path, y.Path), cmp.Compare(x.ID, y.ID))
	})
	b.rep.Documents = out
	b.rep.Forks, b.rep.Conflicts = []Fork{}, []Conflict{}
	for i := range out {
		b.forksOf(&out[i])
	}
}

func (b *builder) document(d workspace.Document) Document {
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
			s, ok := b.sightings[sid]
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

// forksOf records the document's forks (a version with two or more
// children) and, when it has more than one latest version, a conflict.
func (b *builder) forksOf(d *Document) {
	children := map[string][]int{}
	for _, v := range d.Versions {
		for _, l := range v.Parents {
			children[l.Parent] = append(children[l.Parent], v.Seq)
		}
	}
	var heads []Head
	forks := 0
	for _, v := range d.Versions {
		kids := children[v.ID]
		if len(kids) >= 2 {
			forks++
			slices.Sort(kids)
			b.rep.Forks = append(b.rep.Forks, Fork{Document: d.ID, Path: d.Path, Version: v.ID, Seq: v.Seq, Children: kids})
		}
		if len(kids) == 0 {
			h := Head{Seq: v.Seq, Time: v.Time, Author: v.Author}
			if len(v.Seen) > 0 {
				h.Where = v.Seen[len(v.Seen)-1].Where
			}
			heads = append(heads, h)
		}
	}
	d.Heads, d.Forks = len(heads), forks
	if len(heads) >= 2 {
		b.rep.Conflicts = append(b.rep.Conflicts, Conflict{Document: d.ID, Path: d.Path, Heads: heads})
	}
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

// buildTree makes each workspace's folder tree, parents before children.
func (b *builder) buildTree() {
	type acc struct {
		ws      Workspace
		folders map[string]*Folder
	}
	wss := map[string]*acc{}
	for _, d := range b.rep.Documents {
		a := wss[d.Workspace]
		if a == nil {
			a = &acc{ws: Workspace{Name: d.Workspace}, folders: map[string]*Folder{"": {Path: ""}}}
			wss[d.Workspace] = a
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
	out := []Workspace{}
	for _, a := range wss {
		for _, f := range a.folders {
			a.ws.Folders = append(a.ws.Folders, *f)
		}
		slices.SortFunc(a.ws.Folders, func(x, y Folder) int {
			return slices.Compare(strings.Split(x.Path, "/"), strings.Split(y.Path, "/"))
		})
		out = append(out, a.ws)
	}
	slices.SortFunc(out, func(x, y Workspace) int { return cmp.Compare(x.Name, y.Name) })
	b.rep.Workspaces = out
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

// buildDuplicates groups the contents these runs saw in more than one
// place, biggest savings first. Every place in the store is listed.
func (b *builder) buildDuplicates() {
	touched := map[string]bool{}
	for _, it := range b.rep.Items {
		if it.SHA256 != "" {
			touched[it.SHA256] = true
		}
	}
	groups := map[string]*DupGroup{}
	for _, s := range b.sightings {
		sha := s.Blob.String()
		if !touched[sha] {
			continue
		}
		g := groups[sha]
		if g == nil {
			g = &DupGroup{SHA256: sha, Size: s.Size}
			groups[sha] = g
		}
		g.Places = append(g.Places, b.placeOf(s))
	}
	out := []DupGroup{}
	for _, g := range groups {
		if len(g.Places) < 2 {
			continue
		}
		sortPlaces(g.Places)
		g.Copies = len(g.Places)
		g.SavedBytes = g.Size * int64(g.Copies-1)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(x, y DupGroup) int {
		return cmp.Or(-cmp.Compare(x.SavedBytes, y.SavedBytes), -cmp.Compare(x.Copies, y.Copies), cmp.Compare(x.SHA256, y.SHA256))
	})
	b.rep.Duplicates = out
}
