package engine

import (
	"context"
	"io"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/internal/jsonx"
	"github.com/syncd/syncd/workspace"
)

// LoadHistory reads the stored history back as a history.Result, with the
// sightings its versions name.
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
		res.Documents = append(res.Documents, hd)
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
// (documents, versions with parents, sightings).
func ExportJSON(ctx context.Context, cat *workspace.Catalog, w io.Writer) error {
	res, sightings, err := LoadHistory(ctx, cat)
	if err != nil {
		return err
	}
	exp := history.Export(res, sightings)
	return jsonx.WriteIndented(w, &exp, " ", true) // streamed: see jsonx
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
