package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

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
func HistoryInput(ctx context.Context, cat *workspace.Catalog) (history.Input, map[int64]workspace.Sighting, error) {
	var in history.Input
	all := map[int64]workspace.Sighting{}
	err := cat.EachSighting(ctx, func(s workspace.Sighting) error {
		all[s.ID] = s
		in.Sightings = append(in.Sightings, toHistorySighting(s))
		return nil
	})
	if err != nil {
		return in, nil, err
	}
	contents, err := cat.Contents(ctx)
	if err != nil {
		return in, nil, err
	}
	in.Contents = make(map[string]history.Content, len(contents))
	for id, c := range contents {
		in.Contents[id.String()] = history.Content{Blob: id.String(), Sketch: c.Sketch, Tokens: c.Tokens, Kind: c.Kind}
	}
	pins, err := cat.Pins(ctx)
	if err != nil {
		return in, nil, err
	}
	for _, p := range pins {
		var a PinArgs
		if err := json.Unmarshal(p.Args, &a); err != nil {
			return in, nil, fmt.Errorf("pin %d: %w", p.ID, err)
		}
		in.Pins = append(in.Pins, history.Pin{ID: p.ID, Kind: p.Kind, Blob: a.Blob, Blobs: a.Blobs, Author: p.Actor, Note: a.Note})
	}
	return in, all, nil
}

// historyCaches holds one history.Cache per catalog path, so that a
// long-running process (syncd run) recomputes only the documents a sync
// touched. A cache is a pure memo of rebuild inputs to documents: using it
// never changes a result.
var historyCaches sync.Map // catalog path -> *history.Cache

func historyCache(cat *workspace.Catalog) *history.Cache {
	c, _ := historyCaches.LoadOrStore(cat.Path(), history.NewCache())
	return c.(*history.Cache)
}

// Rebuild recomputes every document's history from all sightings and
// stores it. It is deterministic: rebuilding an unchanged catalog stores
// the same documents with the same keys. Only documents whose inputs
// changed since the last rebuild in this process are recomputed, and only
// documents that differ from the stored history are written.
func (e *Engine) Rebuild(ctx context.Context) error {
	start := time.Now()
	in, _, err := HistoryInput(ctx, e.Catalog)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	loaded := time.Now()
	cache := historyCache(e.Catalog)
	res := cache.Rebuild(in)
	st := cache.Stats()
	built := time.Now()
	docs, err := HistoryDocuments(res)
	if err != nil {
		return err
	}
	diff, err := e.Catalog.ReplaceHistoryDiff(ctx, docs)
	if err != nil {
		return err
	}
	e.logger().Info("history rebuilt", "sightings", len(in.Sightings), "documents", len(docs),
		"recomputed", st.Built, "reused", st.Reused, "written", diff.Written, "removed", diff.Removed,
		"load", loaded.Sub(start).Round(time.Millisecond), "rebuild", built.Sub(loaded).Round(time.Millisecond),
		"store", time.Since(built).Round(time.Millisecond))
	return e.Catalog.Audit(ctx, "syncd", "history.rebuild", "", fmt.Sprintf("%d documents from %d sightings (%d written, %d removed)",
		len(docs), len(in.Sightings), diff.Written, diff.Removed))
}

// HistoryDocuments converts a rebuild result into catalog documents.
func HistoryDocuments(res history.Result) ([]workspace.Document, error) {
	docs := make([]workspace.Document, 0, len(res.Documents))
	for _, d := range res.Documents {
		wd := workspace.Document{Key: d.Key, Workspace: d.Workspace, Folder: d.Folder, Name: d.Name}
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
