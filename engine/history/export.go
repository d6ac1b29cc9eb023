package history

import (
	"cmp"
	"encoding/json"
	"path"
	"slices"
	"strings"
	"time"
)

// ExportDoc is the JSON export of the evaluation contract
// (documents -> versions -> sightings), produced by `syncd export`.
type ExportDoc struct {
	Documents []ExportDocument `json:"documents"`
}

// ExportDocument is one document of the export. Folder and Name are raw
// data (a name may hold "..", "/", control characters); Path is Folder and
// Name joined by "/" without cleaning, so a name never changes the folder
// part. Consumers must clean all three before using them as a file path
// or printing them.
type ExportDocument struct {
	ID        string          `json:"id"`
	Workspace string          `json:"workspace"`
	Path      string          `json:"path"`
	Folder    string          `json:"folder"`
	Name      string          `json:"name"`
	Versions  []ExportVersion `json:"versions"`
}

// ExportVersion is one version; Links carries the evidence (ignored by the scorer).
type ExportVersion struct {
	ID        string           `json:"id"`
	Seq       int              `json:"seq"`
	SHA256    string           `json:"sha256"`
	Size      int64            `json:"size"`
	Parents   []string         `json:"parents"`
	Time      string           `json:"time"`
	Author    string           `json:"author"`
	Sightings []ExportSighting `json:"sightings"`
	Links     []ExportLink     `json:"links,omitempty"`
}

// ExportLink is a parent link with its reason and confidence.
type ExportLink struct {
	Parent     string  `json:"parent"`
	Reason     string  `json:"reason"`
	Confidence float64 `json:"confidence"`
}

// ExportSighting is one place a version was seen. Only the fields of its
// source are written: imap (account, mailbox, uid, message_id, filename:
// "" for a part without a name),
// share (path), sharepoint (item_id, version_id).
type ExportSighting struct {
	Source    string // "imap" | "share" | "sharepoint"
	Name      string // source name from config
	Account   string
	Mailbox   string
	UID       uint32
	MessageID string
	Filename  string
	Path      string
	ItemID    string
	VersionID string
	Gone      string // RFC 3339 time the copy was seen gone from its source; "" while there
}

// MarshalJSON writes the fields of the sighting's source only.
func (s ExportSighting) MarshalJSON() ([]byte, error) {
	switch s.Source {
	case "imap":
		return json.Marshal(struct {
			Source    string `json:"source"`
			Name      string `json:"source_name,omitempty"`
			Account   string `json:"account"`
			Mailbox   string `json:"mailbox"`
			UID       uint32 `json:"uid"`
			MessageID string `json:"message_id"`
			Filename  string `json:"filename"`
			Gone      string `json:"gone,omitempty"`
		}{s.Source, s.Name, s.Account, s.Mailbox, s.UID, s.MessageID, s.Filename, s.Gone})
	case "sharepoint":
		return json.Marshal(struct {
			Source    string `json:"source"`
			Name      string `json:"source_name,omitempty"`
			ItemID    string `json:"item_id"`
			VersionID string `json:"version_id"`
			Gone      string `json:"gone,omitempty"`
		}{s.Source, s.Name, s.ItemID, s.VersionID, s.Gone})
	default:
		return json.Marshal(struct {
			Source string `json:"source"`
			Name   string `json:"source_name,omitempty"`
			Path   string `json:"path"`
			Gone   string `json:"gone,omitempty"`
		}{s.Source, s.Name, s.Path, s.Gone})
	}
}

// Export converts a Result into the export structure. sightings maps the
// ids held by versions to their sightings; unknown ids are left out.
func Export(res Result, sightings map[int64]Sighting) ExportDoc {
	out := ExportDoc{Documents: []ExportDocument{}}
	for _, d := range res.Documents {
		out.Documents = append(out.Documents, ExportOne(d, sightings))
	}
	return out
}

// ExportOne converts one document, as Export does: a streaming export
// calls it with the sightings of that document alone.
func ExportOne(d Document, sightings map[int64]Sighting) ExportDocument {
	ed := ExportDocument{ID: d.Key, Workspace: d.Workspace, Path: joinPath(d.Folder, d.Name), Folder: d.Folder, Name: d.Name}
	for _, v := range d.Versions {
		ev := ExportVersion{ID: v.Key, Seq: v.Seq, SHA256: v.Blob, Size: v.Size, Parents: []string{},
			Author: v.Author, Sightings: []ExportSighting{}}
		if !v.Time.IsZero() {
			ev.Time = v.Time.UTC().Format(time.RFC3339)
		}
		for _, l := range v.Parents {
			ev.Parents = append(ev.Parents, l.Parent)
			ev.Links = append(ev.Links, ExportLink(l))
		}
		for _, id := range v.Sightings {
			if s, ok := sightings[id]; ok {
				ev.Sightings = append(ev.Sightings, exportSighting(s))
			}
		}
		// By place, not by catalog id (ingest order, which varies
		// with the timing of parallel downloads).
		slices.SortStableFunc(ev.Sightings, compareExportSightings)
		ed.Versions = append(ed.Versions, ev)
	}
	return ed
}

func exportSighting(s Sighting) ExportSighting {
	e := exportPlace(s)
	if !s.Gone.IsZero() {
		e.Gone = s.Gone.UTC().Format(time.RFC3339)
	}
	return e
}

func exportPlace(s Sighting) ExportSighting {
	l := s.Lineage
	switch s.Kind {
	case KindMail:
		name := s.Name
		if l.NameGenerated {
			name = "" // the part had no name: syncd's is for display only
		}
		return ExportSighting{Source: "imap", Name: s.Source, Account: l.Account, Mailbox: l.Mailbox, UID: l.UID,
			MessageID: l.MessageID, Filename: name}
	case KindSharePoint:
		return ExportSighting{Source: "sharepoint", Name: s.Source, ItemID: l.ItemID, VersionID: l.VersionID}
	default:
		return ExportSighting{Source: "share", Name: s.Source, Path: joinPath(s.Path, s.Name)}
	}
}

// joinPath puts name under folder. Only the folder is cleaned; the name is
// data and is appended as it is (path.Join would let a name of
// "../../etc/x.docx" climb out of its folder).
func joinPath(folder, name string) string {
	folder = strings.Trim(path.Clean("/"+folder), "/")
	if folder == "" {
		return name
	}
	return folder + "/" + name
}

func compareExportSightings(a, b ExportSighting) int {
	return cmp.Or(
		strings.Compare(a.Name, b.Name),
		strings.Compare(a.Source, b.Source),
		strings.Compare(a.Account, b.Account),
		strings.Compare(a.Mailbox, b.Mailbox),
		cmp.Compare(a.UID, b.UID),
		strings.Compare(a.MessageID, b.MessageID),
		strings.Compare(a.Filename, b.Filename),
		strings.Compare(a.Path, b.Path),
		strings.Compare(a.ItemID, b.ItemID),
		strings.Compare(a.VersionID, b.VersionID),
	)
}
