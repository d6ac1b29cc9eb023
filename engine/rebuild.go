package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

// PinArgs is how pins are stored in the catalog.
type PinArgs struct {
	Blob  string   `json:"blob"`
	Blobs []string `json:"blobs,omitempty"`
	Note  string   `json:"note,omitempty"`
}

// HistoryInput loads everything history needs from the catalog.
func HistoryInput(ctx context.Context, cat *workspace.Catalog) (history.Input, error) {
	var in history.Input
	err := cat.EachSighting(ctx, func(s workspace.Sighting) error {
		in.Sightings = append(in.Sightings, rebuildSighting(s))
		return nil
	})
	if err != nil {
		return in, err
	}
	contents, err := cat.Contents(ctx)
	if err != nil {
		return in, err
	}
	in.Contents = make(map[string]history.Content, len(contents))
	for id, c := range contents {
		in.Contents[id.String()] = history.Content{Blob: id.String(), Sketch: c.Sketch, Tokens: c.Tokens, Kind: c.Kind, Modified: c.Modified, Revision: c.Revision}
	}
	in.Pins, err = loadPins(ctx, cat)
	return in, err
}

func loadPins(ctx context.Context, cat *workspace.Catalog) ([]history.Pin, error) {
	pins, err := cat.Pins(ctx)
	if err != nil {
		return nil, err
	}
	var out []history.Pin
	for _, p := range pins {
		var a PinArgs
		if err := json.Unmarshal(p.Args, &a); err != nil {
			return nil, fmt.Errorf("pin %d: %w", p.ID, err)
		}
		out = append(out, history.Pin{ID: p.ID, Kind: p.Kind, Blob: a.Blob, Blobs: a.Blobs, Author: p.Actor, Note: a.Note})
	}
	return out, nil
}

// HistoryDocuments converts a rebuild result into catalog documents.
func HistoryDocuments(res history.Result) ([]workspace.Document, error) {
	docs := make([]workspace.Document, 0, len(res.Documents))
	for _, d := range res.Documents {
		wd := workspace.Document{Key: stableDocKey(d), Workspace: d.Workspace, Folder: d.Folder, Name: d.Name}
		for _, v := range d.Versions {
			id, err := dedupe.ParseID(v.Blob)
			if err != nil {
				return nil, fmt.Errorf("history: version %s: %w", v.Key, err)
			}
			wv := workspace.Version{Key: v.Key, Blob: id, Seq: v.Seq, Time: v.Time, Author: v.Author, Sightings: v.Sightings}
			for _, l := range v.Parents {
				wv.Parents = append(wv.Parents, workspace.Link{Parent: l.Parent, Reason: l.Reason, Confidence: l.Confidence})
			}
			wd.Versions = append(wd.Versions, wv)
		}
		docs = append(docs, wd)
	}
	return docs, nil
}
