package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
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
		in.Contents[id.String()] = history.Content{Blob: id.String(), Sketch: c.Sketch, Tokens: c.Tokens, Kind: c.Kind}
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

// historyStates holds, per catalog path, what this process keeps between
// history rebuilds: the sightings and texts loaded so far (sightings are
// only ever added, so the next rebuild reads only the newer ones) and a
// history.Cache, so that a long-running process (syncd run) recomputes
// only the documents a sync touched. Neither changes a result: the cache
// is a pure memo, and the loaded input is checked against the catalog.
var historyStates sync.Map // catalog path -> *historyState

type historyState struct {
	mu        sync.Mutex
	cache     *history.Cache
	sightings []history.Sighting
	contents  map[string]history.Content
	looked    map[string]bool // blobs whose content was looked up
	maxID     int64
}

// ForgetHistoryState drops what this process keeps between history
// rebuilds of the catalog (the loaded sightings and texts, about the size
// of one rebuild's input, and the document cache); the next rebuild loads
// and computes everything again, with the same result.
func ForgetHistoryState(cat *workspace.Catalog) { historyStates.Delete(cat.Path()) }

func stateFor(cat *workspace.Catalog) *historyState {
	st, _ := historyStates.LoadOrStore(cat.Path(), &historyState{cache: history.NewCache()})
	return st.(*historyState)
}

// load brings the state up to date with the catalog and returns the input
// of a rebuild over all sightings.
func (st *historyState) load(ctx context.Context, cat *workspace.Catalog) (history.Input, error) {
	for attempt := 0; ; attempt++ {
		ok, err := st.loadNew(ctx, cat)
		if err != nil {
			return history.Input{}, err
		}
		if ok {
			break
		}
		if attempt > 0 {
			return history.Input{}, fmt.Errorf("history: catalog changed while loading sightings")
		}
		st.sightings, st.contents, st.looked, st.maxID = nil, nil, nil, 0 // rows went away: start over
	}
	in := history.Input{Sightings: st.sightings, Contents: st.contents}
	pins, err := loadPins(ctx, cat)
	in.Pins = pins
	return in, err
}

// loadNew reads the sightings added since the last load and the texts of
// their new blobs; it reports false when the catalog no longer holds
// exactly the sightings loaded before (judged by their number and the
// last one).
func (st *historyState) loadNew(ctx context.Context, cat *workspace.Catalog) (bool, error) {
	first := st.contents == nil
	if first {
		st.looked = map[string]bool{}
	}
	var fresh []dedupe.ID
	after, same := st.maxID, true
	if after > 0 {
		after-- // read the last kept sighting again: it must not have changed
	}
	// Room for them all at once: grown by append, the slice of these large
	// structs was allocated about five times over (100,000 sightings:
	// 307 MB allocated for 63 MB kept), and the copies set the peak.
	more, err := cat.CountSightingsAfter(ctx, after)
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	st.sightings = slices.Grow(st.sightings, more)
	err = cat.EachSightingAfter(ctx, after, func(s workspace.Sighting) error {
		hs := rebuildSighting(s)
		if s.ID == st.maxID {
			same = reflect.DeepEqual(hs, st.sightings[len(st.sightings)-1])
			return nil
		}
		st.sightings = append(st.sightings, hs)
		st.maxID = s.ID
		if b := s.Blob.String(); !st.looked[b] {
			st.looked[b] = true
			fresh = append(fresh, s.Blob)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	n, err := cat.CountSightingsUpTo(ctx, st.maxID)
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	if !same || n != len(st.sightings) {
		return false, nil // rows went away or changed (another catalog at this path?)
	}
	var contents map[dedupe.ID]workspace.Content
	if first {
		contents, err = cat.Contents(ctx)
		st.contents = make(map[string]history.Content, len(contents))
	} else {
		contents, err = cat.ContentsOf(ctx, fresh)
	}
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	for id, c := range contents {
		st.contents[id.String()] = history.Content{Blob: id.String(), Sketch: c.Sketch, Tokens: c.Tokens, Kind: c.Kind}
	}
	return true, nil
}

// Rebuild recomputes every document's history from all sightings and
// stores it. It is deterministic: rebuilding an unchanged catalog stores
// the same documents with the same keys. Only documents whose inputs
// changed since the last rebuild in this process are recomputed, and only
// documents that differ from the stored history are written.
func (e *Engine) Rebuild(ctx context.Context) error {
	start := time.Now()
	state := stateFor(e.Catalog)
	state.mu.Lock()
	defer state.mu.Unlock()
	in, err := state.load(ctx, e.Catalog)
	if err != nil {
		return err
	}
	loaded := time.Now()
	res := state.cache.Rebuild(in)
	st := state.cache.Stats()
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
