package main

import (
	"context"
	"fmt"
	"io"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

// rebuildHistory runs the history rebuild by hand.
func rebuildHistory(ctx context.Context, st *store, full bool, w io.Writer) error {
	rs, err := st.engine(nil).RebuildStats(ctx, full)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "history rebuilt: %d components (%d blobs, %d sightings; the largest %d blobs); %d documents written, %d removed, %d unchanged\n",
		rs.Components, rs.Nodes, rs.Sightings, rs.Largest, rs.Diff.Written, rs.Diff.Removed, rs.Diff.Unchanged)
	if rs.Capped+rs.Hubs > 0 {
		fmt.Fprintf(w, "%d pieces of evidence and %d blobs are too common to group documents: see 'syncd history caps'\n", rs.Capped, rs.Hubs)
	}
	return nil
}

// checkHistory compares the stored history with history.Rebuild over the
// whole catalog: the reference the partitioned rebuild must equal.
func checkHistory(ctx context.Context, st *store, w io.Writer) error {
	eng := st.engine(nil)
	if err := eng.Rebuild(ctx); err != nil {
		return err
	}
	in, err := engine.HistoryInput(ctx, st.cat)
	if err != nil {
		return err
	}
	in.KeyCap = st.keyCap
	want, err := engine.HistoryDocuments(history.Rebuild(in))
	if err != nil {
		return err
	}
	got, err := st.cat.Documents(ctx)
	if err != nil {
		return err
	}
	diff := workspace.DiffDocuments(got, want)
	if len(diff) == 0 {
		fmt.Fprintf(w, "stored history matches a rebuild of the whole catalog: %d documents from %d sightings\n", len(want), len(in.Sightings))
		return nil
	}
	for _, k := range diff {
		fmt.Fprintf(w, "differs: %s\n", termSafe(k))
	}
	return fmt.Errorf("stored history differs from a rebuild of the whole catalog in %d of %d documents", len(diff), len(want))
}

// showCaps explains the evidence the rebuild ignores as too common.
func showCaps(ctx context.Context, st *store, w io.Writer) error {
	keyCap := st.keyCap
	if keyCap <= 0 {
		keyCap = history.DefaultKeyCap
	}
	keys, hubs, err := engine.Caps(ctx, st.cat, keyCap)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "history.key_cap is %d: evidence shared by more blobs, and blobs carrying more evidence, group nothing\n", keyCap)
	if len(keys)+len(hubs) == 0 {
		fmt.Fprintln(w, "nothing is capped")
		return nil
	}
	for _, k := range keys {
		fmt.Fprintf(w, "%-16s %s: more than %d blobs (one is %s)\n", k.What, termSafe(k.Label), k.Nodes-1, termSafe(k.Example))
	}
	for _, h := range hubs {
		fmt.Fprintf(w, "%-16s %s %s in workspace %s: %d names, threads and items\n", "blob", h.Blob.Short(), termSafe(h.Name), termSafe(h.Workspace), h.Places)
	}
	return nil
}
