package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
	"golang.org/x/sync/errgroup"
)

// The history rebuild, one component at a time (docs/design.md, "History
// in bounded memory"). Ingest queues what it adds (triggers in the
// catalog); Rebuild first turns the queue into evidence keys and dirty
// nodes, then rebuilds the component of every dirty node (every component
// when the index asks for it) in batches, replacing the documents that
// held their nodes. Memory is bounded by the largest component plus a
// batch, and by one number per node during a full rebuild.

// Batch bounds: components are rebuilt together until a batch holds
// defaultBatch sightings (Engine.RebuildBatch; a larger component is
// rebuilt alone).
const (
	indexChunk   = 10000
	defaultBatch = 20000
	// fullShare: when more than this share of nodes is dirty, walking
	// each component from the index costs more than one pass over it.
	fullShare = 4
)

// RebuildStats is what one Rebuild did.
type RebuildStats struct {
	Full       bool
	Indexed    int // sightings newly indexed
	Components int
	Nodes      int
	Sightings  int
	Largest    int // blobs in the largest component
	Capped     int // oversized keys (no evidence)
	Hubs       int // nodes whose place keys are no evidence
	Diff       workspace.HistoryDiff
}

func (e *Engine) keyCap() int {
	if e.KeyCap > 0 {
		return e.KeyCap
	}
	return history.DefaultKeyCap
}

// Rebuild brings the stored history up to date with the catalog. It is
// deterministic: the stored documents are exactly what history.Rebuild of
// every sighting gives (with the same key cap), whatever the order and
// number of the syncs and rebuilds before. Only the components that a
// sync touched are recomputed, and only documents that differ from the
// stored history are written. An interrupted rebuild leaves its dirty
// nodes marked: the next one finishes the work.
func (e *Engine) Rebuild(ctx context.Context) error {
	_, err := e.RebuildStats(ctx, false)
	return err
}

// RebuildStats is Rebuild, reporting what it did; full rebuilds every
// component.
func (e *Engine) RebuildStats(ctx context.Context, full bool) (RebuildStats, error) {
	start := time.Now()
	var st RebuildStats
	unlock, err := e.lockHistory(ctx)
	if err != nil {
		return st, err
	}
	defer unlock()
	cat, keyCap := e.Catalog, e.keyCap()
	idx, err := cat.HistoryIndex(ctx)
	if err != nil {
		return st, err
	}
	if full || idx.Cap != keyCap && !idx.Full {
		if err := setFull(ctx, cat, keyCap); err != nil {
			return st, err
		}
	}
	if st.Indexed, err = indexHistory(ctx, cat, keyCap); err != nil {
		return st, err
	}
	if idx, err = cat.HistoryIndex(ctx); err != nil {
		return st, err
	}
	indexed := time.Now()
	capped, err := cat.CappedKeys(ctx, keyCap)
	if err != nil {
		return st, err
	}
	st.Capped = len(capped)
	oversized := make(map[uint64]bool, len(capped))
	for k := range capped {
		oversized[k] = true
	}
	pins, err := loadPins(ctx, cat)
	if err != nil {
		return st, err
	}
	hubIDs, err := cat.Hubs(ctx, keyCap)
	if err != nil {
		return st, err
	}
	// Two connections: one reads and rebuilds the next batch while the
	// other stores the last (docs/design.md, "History in bounded
	// memory"); one after the other, on one connection, a full rebuild
	// kept one of two cores busy. The writer has the page cache
	// (store.cache_mb): its index pages are what it reads again.
	r := cat.HistoryReader()
	defer r.Close()
	w, err := cat.RebuildReader(ctx)
	if err != nil {
		return st, err
	}
	defer w.Close()
	hubs := map[string]bool{}
	for id := range hubIDs {
		n, err := r.Node(ctx, id)
		if err != nil {
			return st, err
		}
		hubs[n.Workspace+"\x00"+n.Blob.String()] = true
	}
	st.Hubs = len(hubs)
	ev := evidence{oversized: oversized, hubs: hubIDs}
	st.Full = idx.Full || idx.Dirty*fullShare > idx.Nodes
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan rebuilt)
	b := &rebuildBatch{ctx: gctx, cat: cat, r: r, pins: pins, oversized: oversized, hubs: hubs, out: batches, limit: cmp.Or(e.RebuildBatch, defaultBatch)}
	g.Go(func() error {
		defer close(batches)
		var err error
		if st.Full {
			err = eachComponentFull(gctx, cat, idx.Nodes, ev, b.add)
		} else {
			err = eachDirtyComponent(gctx, r, ev, b.add)
		}
		if err != nil {
			return err
		}
		return b.flush()
	})
	g.Go(func() error {
		for x := range batches {
			diff, err := w.ReplaceComponents(gctx, x.nodes, x.docs)
			if err != nil {
				return err
			}
			st.add(x.counts, diff)
			if e.OnRebuildBatch != nil {
				e.OnRebuildBatch(st)
			}
			if err := gctx.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return st, err
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if idx.Full || idx.Cap != keyCap {
		if err := cat.FinishFull(ctx, keyCap); err != nil {
			return st, err
		}
	}
	e.logger().Info("history rebuilt", "full", st.Full, "indexed", st.Indexed, "components", st.Components,
		"nodes", st.Nodes, "sightings", st.Sightings, "largest_nodes", st.Largest, "capped_keys", st.Capped, "hubs", st.Hubs,
		"written", st.Diff.Written, "removed", st.Diff.Removed, "unchanged", st.Diff.Unchanged,
		"index", indexed.Sub(start).Round(time.Millisecond), "rebuild", time.Since(indexed).Round(time.Millisecond))
	if st.Components == 0 && st.Indexed == 0 {
		return st, nil
	}
	return st, cat.Audit(ctx, "syncd", "history.rebuild", "", fmt.Sprintf("%d components, %d sightings (%d documents written, %d removed)",
		st.Components, st.Sightings, st.Diff.Written, st.Diff.Removed))
}

func setFull(ctx context.Context, cat *workspace.Catalog, keyCap int) error {
	ix, err := cat.NewIndexer(ctx, keyCap)
	if err != nil {
		return err
	}
	defer ix.Close()
	tx, err := ix.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.SetFull(ctx, keyCap); err != nil {
		return err
	}
	return tx.Commit()
}

// indexHistory turns what ingest queued into nodes, keys and dirty nodes,
// a chunk per transaction. It returns how many sightings it indexed.
func indexHistory(ctx context.Context, cat *workspace.Catalog, keyCap int) (int, error) {
	pins, err := loadPins(ctx, cat)
	if err != nil {
		return 0, err
	}
	pinsOf := map[string][]int64{} // blob -> merge and split pins naming it
	for _, p := range pins {
		if p.Kind == history.PinMerge || p.Kind == history.PinSplit {
			for _, b := range history.PinBlobs(p) {
				pinsOf[b] = append(pinsOf[b], p.ID)
			}
		}
	}
	ix, err := cat.NewIndexer(ctx, keyCap)
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	done := 0
	for {
		// A pass indexes what was queued when it read; the next finds
		// what was queued meanwhile (on PostgreSQL, possibly with smaller
		// ids than those read), and normally nothing.
		n, err := indexQueued(ctx, cat, ix, pinsOf)
		done += n
		if err != nil {
			return done, err
		}
		if n == 0 {
			break
		}
	}
	if err := orphans(ctx, ix); err != nil {
		return done, err
	}
	for more := true; more; {
		if more, err = indexContents(ctx, ix); err != nil {
			return done, err
		}
	}
	return done, indexPins(ctx, ix)
}

// queued is a chunk of queued sightings and the place keys of each.
type queued struct {
	ss   []workspace.Sighting
	keys [][]workspace.KeyRef
}

// indexQueued indexes the queued sightings a chunk per transaction: one
// goroutine reads the next chunk and works out its keys while the other
// writes the last (one after the other they kept one of two cores busy).
// It returns how many sightings it indexed.
func indexQueued(ctx context.Context, cat *workspace.Catalog, ix *workspace.Indexer, pinsOf map[string][]int64) (int, error) {
	g, gctx := errgroup.WithContext(ctx)
	chunks := make(chan queued)
	g.Go(func() error {
		defer close(chunks)
		names := history.NewNameMemo()
		after := int64(0)
		for {
			ss, err := cat.TodoSightings(gctx, after, indexChunk)
			if err != nil || len(ss) == 0 {
				return err
			}
			q := queued{ss: ss, keys: make([][]workspace.KeyRef, len(ss))}
			for i := range ss {
				hs := rebuildSighting(ss[i])
				for _, k := range history.SightingKeys(&hs, names) {
					q.keys[i] = append(q.keys[i], workspace.KeyRef{Key: k.Hash, Kind: workspace.KeyPlace, What: k.Kind, Label: k.Label})
				}
			}
			select {
			case chunks <- q:
			case <-gctx.Done():
				return gctx.Err()
			}
			after = ss[len(ss)-1].ID
			if len(names) > 100000 {
				names = history.NewNameMemo() // a memo, not a catalog-sized map
			}
		}
	})
	done := 0
	g.Go(func() error {
		for q := range chunks {
			if err := indexSightings(gctx, ix, pinsOf, q); err != nil {
				return err
			}
			done += len(q.ss)
		}
		return nil
	})
	err := g.Wait()
	return done, err
}

// indexSightings indexes one chunk of queued sightings, in a transaction.
func indexSightings(ctx context.Context, ix *workspace.Indexer, pinsOf map[string][]int64, q queued) error {
	tx, err := ix.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// A sighting's keys go to its blob's node (AddNodeKeys gathers a
	// node's sightings).
	adds := make([]workspace.NodeKeys, len(q.ss))
	ids := make([]int64, len(q.ss))
	for i, s := range q.ss {
		ids[i] = s.ID
		adds[i] = workspace.NodeKeys{Workspace: s.Workspace, Blob: s.Blob, Keys: q.keys[i]}
	}
	// A new node's keys from its blob: its text bands and the pins that
	// name it.
	first := func(ws string, c workspace.Content) []workspace.KeyRef {
		out := textKeys(ws, c.Sketch)
		for _, id := range pinsOf[c.Blob.String()] {
			out = append(out, workspace.KeyRef{Key: history.PinKey(id), Kind: workspace.KeyPin})
		}
		return out
	}
	if _, err := tx.AddNodeKeys(ctx, adds, first); err != nil {
		return err
	}
	if err := tx.DoneSightings(ctx, ids); err != nil {
		return err
	}
	return tx.Commit()
}

// orphans takes off the queue the sightings deleted since they were
// queued.
func orphans(ctx context.Context, ix *workspace.Indexer) error {
	tx, err := ix.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.TodoOrphans(ctx); err != nil {
		return err
	}
	return tx.Commit()
}

// textKeys are the text-band keys of a sketch in a workspace.
func textKeys(ws string, sketch []uint64) []workspace.KeyRef {
	var out []workspace.KeyRef
	for i, k := range history.TextKeys(ws, sketch) {
		out = append(out, workspace.KeyRef{Key: k, Kind: workspace.KeyText, What: history.KeyText, Label: fmt.Sprintf("band %d", i)})
	}
	return out
}

// indexContents indexes one chunk of queued text sketches: the blob's
// nodes get its text bands. It reports whether there may be more.
func indexContents(ctx context.Context, ix *workspace.Indexer) (bool, error) {
	tx, err := ix.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	cs, err := tx.TodoContents(ctx, indexChunk)
	if err != nil || len(cs) == 0 {
		return false, err
	}
	blobs := make([]dedupe.ID, len(cs))
	sketches := make(map[dedupe.ID][]uint64, len(cs))
	for i, c := range cs {
		blobs[i] = c.Blob
		sketches[c.Blob] = c.Sketch
	}
	nodes, err := tx.NodesOfBlobs(ctx, blobs)
	if err != nil {
		return false, err
	}
	adds := make([]workspace.NodeKeys, len(nodes))
	for i, n := range nodes {
		adds[i] = workspace.NodeKeys{Workspace: n.Workspace, Blob: n.Blob, Keys: textKeys(n.Workspace, sketches[n.Blob])}
	}
	if _, err := tx.AddNodeKeys(ctx, adds, nil); err != nil {
		return false, err
	}
	if err := tx.DoneContents(ctx, blobs); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// indexPins gives the nodes of every blob a new merge or split pin names
// the pin's key, and marks them dirty (a relink pin acts within one
// document: its nodes are marked dirty only).
func indexPins(ctx context.Context, ix *workspace.Indexer) error {
	tx, err := ix.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ps, err := tx.TodoPins(ctx)
	if err != nil || len(ps) == 0 {
		return err
	}
	var adds []workspace.NodeKeys
	for _, p := range ps {
		var a PinArgs
		if err := json.Unmarshal(p.Args, &a); err != nil {
			return fmt.Errorf("pin %d: %w", p.ID, err)
		}
		var blobs []dedupe.ID
		for _, b := range append([]string{a.Blob}, a.Blobs...) {
			if id, err := dedupe.ParseID(b); err == nil {
				blobs = append(blobs, id)
			} // else a pin about no stored content groups nothing
		}
		nodes, err := tx.NodesOfBlobs(ctx, blobs)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			add := workspace.NodeKeys{Workspace: n.Workspace, Blob: n.Blob}
			if p.Kind == history.PinMerge || p.Kind == history.PinSplit {
				add.Keys = []workspace.KeyRef{{Key: history.PinKey(p.ID), Kind: workspace.KeyPin}}
			}
			adds = append(adds, add)
		}
	}
	if _, err := tx.AddNodeKeys(ctx, adds, nil); err != nil {
		return err
	}
	if err := tx.DonePins(ctx); err != nil {
		return err
	}
	return tx.Commit()
}

// evidence is what the index says is no evidence: oversized keys, and
// the place keys of hubs.
type evidence struct {
	oversized map[uint64]bool
	hubs      map[int64]bool
}

// joins reports whether a row of the index is evidence.
func (ev evidence) joins(k workspace.KeyRef) bool {
	if ev.oversized[k.Key] {
		return false
	}
	return k.Kind != workspace.KeyPlace || !ev.hubs[k.Node]
}

// eachComponentFull calls fn with every component, found with one pass
// over the keys (a union-find over node ids: 4 bytes a node), in the
// order of their smallest node.
func eachComponentFull(ctx context.Context, cat *workspace.Catalog, maxNode int, ev evidence, fn func([]int64) error) error {
	parent := make([]int32, maxNode+1)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	err := cat.EachKeyGroup(ctx, func(rows []workspace.KeyRef) {
		r := int32(-1)
		for _, k := range rows {
			if !ev.joins(k) {
				continue
			}
			o := find(int32(k.Node))
			if r < 0 {
				r = o
				continue
			}
			if o != r {
				if o < r {
					r, o = o, r
				}
				parent[o] = r
			}
		}
	})
	if err != nil {
		return err
	}
	// Counting sort of nodes by root: start[r] .. start[r+1] in order.
	count := make([]int32, maxNode+2)
	for i := 1; i <= maxNode; i++ {
		count[find(int32(i))+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	order := make([]int32, maxNode)
	next := slices.Clone(count)
	for i := 1; i <= maxNode; i++ {
		r := find(int32(i))
		order[next[r]] = int32(i)
		next[r]++
	}
	parent, next = nil, nil
	var comp []int64
	for r := 1; r <= maxNode; r++ {
		lo, hi := count[r], count[r+1]
		if lo == hi {
			continue
		}
		comp = comp[:0]
		for _, n := range order[lo:hi] {
			comp = append(comp, int64(n))
		}
		if err := fn(comp); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// eachDirtyComponent calls fn with the component of every dirty node,
// walking the index from it.
func eachDirtyComponent(ctx context.Context, r *workspace.HistoryReader, ev evidence, fn func([]int64) error) error {
	dirty, err := r.DirtyNodes(ctx)
	if err != nil {
		return err
	}
	visited := map[int64]bool{}
	seenKey := map[uint64]bool{}
	for _, d := range dirty {
		if visited[d] {
			continue
		}
		visited[d] = true
		// Breadth first, a level a pair of statements: the keys of the
		// level's nodes, then the nodes of the keys not followed yet.
		comp := []int64{d}
		for lo := 0; lo < len(comp); {
			level := comp[lo:]
			lo = len(comp)
			keys, err := r.KeysOf(ctx, level)
			if err != nil {
				return err
			}
			var follow []uint64
			for _, k := range keys {
				if ev.joins(k) && !seenKey[k.Key] {
					seenKey[k.Key] = true
					follow = append(follow, k.Key)
				}
			}
			nodes, err := r.NodesOf(ctx, follow)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if ev.joins(n) && !visited[n.Node] {
					visited[n.Node] = true
					comp = append(comp, n.Node)
				}
			}
		}
		slices.Sort(comp)
		if err := fn(comp); err != nil {
			return err
		}
	}
	return nil
}

// rebuildBatch gathers components until it holds its limit of
// sightings, then rebuilds them together (components are independent, so
// a batch's result is theirs one by one) and hands the documents to the
// writer on out.
type rebuildBatch struct {
	ctx       context.Context
	cat       *workspace.Catalog
	r         *workspace.HistoryReader
	pins      []history.Pin
	oversized map[uint64]bool
	hubs      map[string]bool
	out       chan<- rebuilt
	limit     int // sightings
	pending   []int64
	nodes     []workspace.NodeRef
	in        history.Input
	counts    RebuildStats // of the components in nodes and pending
}

// rebuilt is a batch's documents, to be stored in place of what held
// its nodes.
type rebuilt struct {
	nodes  []workspace.NodeRef
	docs   []workspace.Document
	counts RebuildStats // Components, Nodes, Sightings, Largest
}

// add counts a stored batch in.
func (st *RebuildStats) add(c RebuildStats, diff workspace.HistoryDiff) {
	st.Components += c.Components
	st.Nodes += c.Nodes
	st.Sightings += c.Sightings
	st.Largest = max(st.Largest, c.Largest)
	st.Diff.Documents += diff.Documents
	st.Diff.Written += diff.Written
	st.Diff.Removed += diff.Removed
	st.Diff.Unchanged += diff.Unchanged
}

func (b *rebuildBatch) add(comp []int64) error {
	b.counts.Components++
	b.counts.Nodes += len(comp)
	b.counts.Largest = max(b.counts.Largest, len(comp))
	b.pending = append(b.pending, comp...)
	if len(b.pending) < min(pendingNodes, max(1, b.limit/8)) {
		return nil
	}
	if err := b.load(); err != nil {
		return err
	}
	if len(b.in.Sightings) >= b.limit {
		return b.flush()
	}
	return nil
}

// pendingNodes: nodes are looked up, and their sightings read, this many
// at a time (fewer for small batches: a blob has a few sightings).
const pendingNodes = 1000

// load reads the pending nodes and their sightings into the batch.
func (b *rebuildBatch) load() error {
	if len(b.pending) == 0 {
		return nil
	}
	nodes, err := b.r.Nodes(b.ctx, b.pending)
	if err != nil {
		return err
	}
	b.pending = b.pending[:0]
	before := len(b.in.Sightings)
	err = b.r.SightingsOfNodes(b.ctx, nodes, func(s workspace.Sighting) error {
		b.in.Sightings = append(b.in.Sightings, rebuildSighting(s))
		return nil
	})
	if err != nil {
		return err
	}
	b.counts.Sightings += len(b.in.Sightings) - before
	b.nodes = append(b.nodes, nodes...)
	return nil
}

// flush rebuilds the batch and hands it to the writer.
func (b *rebuildBatch) flush() error {
	if err := b.load(); err != nil {
		return err
	}
	if len(b.nodes) == 0 {
		return nil
	}
	blobs := make([]dedupe.ID, len(b.nodes))
	for i, n := range b.nodes {
		blobs[i] = n.Blob
	}
	contents, err := b.cat.ContentsOf(b.ctx, blobs)
	if err != nil {
		return err
	}
	b.in.Contents = make(map[string]history.Content, len(contents))
	for id, c := range contents {
		b.in.Contents[id.String()] = history.Content{Blob: id.String(), Sketch: c.Sketch, Tokens: c.Tokens, Kind: c.Kind, Modified: c.Modified, Revision: c.Revision}
	}
	b.in.Pins, b.in.Oversized, b.in.Hubs = b.pins, b.oversized, b.hubs
	docs, err := HistoryDocuments(history.Rebuild(b.in))
	if err != nil {
		return err
	}
	select {
	case b.out <- rebuilt{nodes: b.nodes, docs: docs, counts: b.counts}:
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
	// The next batch reuses the sightings' array (regrowing it each batch
	// was a tenth of a full rebuild): the documents sent hold none of it.
	// What the old elements point to is overwritten as it refills.
	b.nodes, b.counts, b.in = nil, RebuildStats{}, history.Input{Sightings: b.in.Sightings[:0]}
	return nil
}
