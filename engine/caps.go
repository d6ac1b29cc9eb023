package engine

import (
	"context"
	"fmt"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

// CappedEvidence is a piece of evidence too common to group documents.
type CappedEvidence struct {
	What    string // history.KeyName, KeyMessage, KeySharePoint, KeyText
	Label   string // the name family, message id, item; for text, the name of one blob that has it
	Nodes   int    // blobs that carried it when it passed the cap
	Example string // the name of one blob that carries it
}

// Caps explains what the history index ignores as too common: each capped
// key with what it stands for (worked out again from one of its blobs
// when the index no longer knows, after a change of cap), and the hubs.
func Caps(ctx context.Context, cat *workspace.Catalog, keyCap int) ([]CappedEvidence, []workspace.Hub, error) {
	if keyCap <= 0 {
		keyCap = history.DefaultKeyCap
	}
	keys, hubs, err := cat.Caps(ctx, keyCap)
	if err != nil {
		return nil, nil, err
	}
	r := cat.HistoryReader()
	defer r.Close()
	out := make([]CappedEvidence, 0, len(keys))
	for _, k := range keys {
		ce := CappedEvidence{What: k.What, Label: k.Label, Nodes: k.Nodes}
		if err := explainKey(ctx, r, k.Key, &ce); err != nil {
			return nil, nil, err
		}
		out = append(out, ce)
	}
	return out, hubs, nil
}

// explainKey names one blob that carries the key and, where the index
// kept no label, finds which of that blob's keys it is.
func explainKey(ctx context.Context, r *workspace.HistoryReader, key uint64, ce *CappedEvidence) error {
	nodes, err := r.NodesOf(ctx, []uint64{key})
	if err != nil || len(nodes) == 0 {
		return err
	}
	n, err := r.Node(ctx, nodes[0].Node)
	if err != nil {
		return err
	}
	return r.SightingsOf(ctx, n, func(s workspace.Sighting) error {
		if ce.Example == "" {
			ce.Example = s.Name
		}
		if nodes[0].Kind == workspace.KeyText {
			ce.What = history.KeyText
			if ce.Label == "" || ce.Label[0] == 'b' { // "band N"
				ce.Label = fmt.Sprintf("text like %q", s.Name)
			}
			return nil
		}
		if ce.Label != "" {
			return nil
		}
		hs := rebuildSighting(s)
		for _, k := range history.SightingKeys(&hs, nil) {
			if k.Hash == key {
				ce.What, ce.Label = k.Kind, k.Label
			}
		}
		return nil
	})
}
