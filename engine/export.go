package engine

import (
	"context"
	"io"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/internal/jsonx"
	"github.com/syncd/syncd/workspace"
)

// LoadHistory reads the whole stored history back as a history.Result,
// with every sighting. It holds the store in memory: for tests and small
// callers; ExportJSON and EachHistoryDocument stream.
func LoadHistory(ctx context.Context, cat *workspace.Catalog) (history.Result, map[int64]history.Sighting, error) {
	docs, err := cat.Documents(ctx)
	if err != nil {
		return history.Result{}, nil, err
	}
	sightings := map[int64]history.Sighting{}
	err = cat.EachSighting(ctx, func(s workspace.Sighting) error {
		sightings[s.ID] = toHistorySighting(s)
		return nil
	})
	if err != nil {
		return history.Result{}, nil, err
	}
	var res history.Result
	for _, d := range docs {
		res.Documents = append(res.Documents, historyDocument(d, sightings))
	}
	return res, sightings, nil
}

func toHistorySighting(s workspace.Sighting) history.Sighting {
	return history.Sighting{
		ID: s.ID, Source: s.Source, Kind: s.Kind, Blob: s.Blob.String(), Size: s.Size,
		Name: s.Name, Path: s.Path, Time: s.Time, Author: s.Author, Workspace: s.Workspace, Lineage: s.Lineage, Gone: s.Gone,
	}
}

// ExportJSON writes the stored history in the evaluation contract
// (documents, versions with parents, sightings), one document at a time:
// memory is bounded by the largest document, not the store. The bytes are
// those of history.Export over LoadHistory written by jsonx.WriteIndented.
func ExportJSON(ctx context.Context, cat *workspace.Catalog, w io.Writer) error {
	doc := struct {
		Documents jsonx.List `json:"documents"`
	}{exportList{ctx, cat}}
	return jsonx.WriteIndented(w, &doc, " ", true)
}

// exportList hands out the export's documents as the catalog streams them.
type exportList struct {
	ctx context.Context
	cat *workspace.Catalog
}

func (e exportList) Each(fn func(any) error) error {
	return EachHistoryDocument(e.ctx, e.cat, func(d history.Document, sightings map[int64]history.Sighting) error {
		return fn(history.ExportOne(d, sightings))
	})
}

// EachHistoryDocument calls fn for every stored document in key order, as
// LoadHistory would give it, with the sightings its versions name.
func EachHistoryDocument(ctx context.Context, cat *workspace.Catalog, fn func(history.Document, map[int64]history.Sighting) error) error {
	return cat.EachDocumentSightings(ctx, workspace.DocFilter{}, func(d workspace.Document, ss []workspace.Sighting) error {
		sightings := make(map[int64]history.Sighting, len(ss))
		for _, s := range ss {
			sightings[s.ID] = toHistorySighting(s)
		}
		return fn(historyDocument(d, sightings), sightings)
	})
}

// historyDocument is a stored document as a history.Document; a
// version's size is that of its first known sighting.
func historyDocument(d workspace.Document, sightings map[int64]history.Sighting) history.Document {
	hd := history.Document{Key: d.Key, Workspace: d.Workspace, Folder: d.Folder, Name: d.Name}
	for _, v := range d.Versions {
		hv := history.Version{Key: v.Key, Blob: v.Blob.String(), Seq: v.Seq, Time: v.Time, Author: v.Author, Sightings: v.Sightings}
		for _, sid := range v.Sightings {
			if s, ok := sightings[sid]; ok {
				hv.Size = s.Size
				break
			}
		}
		for _, l := range v.Parents {
			hv.Parents = append(hv.Parents, history.Link{Parent: l.Parent, Reason: l.Reason, Confidence: l.Confidence})
		}
		hd.Versions = append(hd.Versions, hv)
	}
	return hd
}

// rebuildSighting is a sighting as history rebuilding sees it: every copy
// sits in the folder routing gave it, so a route's folder shapes the
// document tree; unrouted share and SharePoint copies keep their own
// folder, and a mailbox is never a document folder.
func rebuildSighting(s workspace.Sighting) history.Sighting {
	h := toHistorySighting(s)
	h.Path = s.Folder
	return h
}
