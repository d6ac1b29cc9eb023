package workspace

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/syncd/syncd/dedupe"
)

// NodeKeys are keys to add to the node of a blob in a workspace.
type NodeKeys struct {
	Workspace string
	Blob      dedupe.ID
	Keys      []KeyRef
}

// nodeAt names a node by what it is, as NodeKeys do.
type nodeAt struct {
	ws   string
	blob dedupe.ID
}

// nodeAdd is what AddNodeKeys knows of one node.
type nodeAdd struct {
	id      int64
	created bool
	have    []KeyRef // the keys it carried
	places  int      // the place keys among them
	keys    []KeyRef // what the caller adds (then: the keys it did not carry)
}

// AddNodeKeys gives each node the keys listed for it, creating the nodes
// that do not exist yet (first, when not nil, gives a new node's keys
// from its blob's text sketch, a zero Content when it has none), and
// marks every node listed dirty. It returns the nodes' ids in the order
// of adds. Keys count their nodes and a node its place keys: when a key's
// count passes the cap, every node that carries it is marked dirty (the
// key stops being evidence, so the components it joined come apart) and
// the key is recorded as capped; likewise the neighbours of a node whose
// place keys pass the cap (a hub). A key a node already carries changes
// nothing. A chunk of nodes costs a few statements, not a few a node (one
// statement a node was most of the time of indexing a small sync).
func (x *IndexTx) AddNodeKeys(ctx context.Context, adds []NodeKeys, first func(ws string, c Content) []KeyRef) ([]int64, error) {
	nodes := make(map[nodeAt]*nodeAdd, len(adds))
	var order []nodeAt // each node once, in the order of adds
	var blobs []any
	for _, a := range adds {
		at := nodeAt{a.Workspace, a.Blob}
		if n := nodes[at]; n != nil {
			n.keys = append(n.keys, a.Keys...)
			continue
		}
		nodes[at] = &nodeAdd{keys: slices.Clone(a.Keys)}
		order = append(order, at)
		blobs = append(blobs, a.Blob.String())
	}
	if err := x.readNodes(ctx, blobs, nodes); err != nil {
		return nil, err
	}
	if err := x.createNodes(ctx, order, nodes, first); err != nil {
		return nil, err
	}
	// The keys each node did not carry, as rows sorted by key (inserts
	// in key order touch each index page once), counted per key. A row
	// holds no pointer (at, i: where its KeyRef is), so that a chunk's
	// rows cost the garbage collector nothing.
	type keyRow struct {
		key   uint64
		node  int64
		kind  int32
		at, i int32
	}
	total := 0
	for _, at := range order {
		n := nodes[at]
		if !n.created {
			known := make(map[uint64]bool, len(n.have))
			for _, k := range n.have {
				known[k.Key] = true
			}
			n.keys = slices.DeleteFunc(uniqueKeys(n.keys), func(k KeyRef) bool { return known[k.Key] })
			if len(n.keys) > 0 {
				if _, err := x.tc.ExecContext(ctx, `UPDATE history_nodes SET keyset = ?, places = ? WHERE id = ?`, appendKeyset(encodeKeyset(n.have), n.keys), n.places+placeKeys(n.keys), n.id); err != nil {
					return nil, fmt.Errorf("catalog: history node %d: %w", n.id, err)
				}
			}
		}
		total += len(n.keys)
	}
	rows := make([]keyRow, 0, total)
	added := make(map[uint64]int, total)
	for j, at := range order {
		n := nodes[at]
		for i, k := range n.keys {
			rows = append(rows, keyRow{k.Key, n.id, int32(k.Kind), int32(j), int32(i)})
			if k.Kind != KeyPin {
				added[k.Key]++
			}
		}
	}
	slices.SortFunc(rows, func(a, b keyRow) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.node, b.node))
	})
	args := make([]any, 0, 3*keyRowsPerStatement)
	for lo := 0; lo < len(rows); lo += keyRowsPerStatement {
		part := rows[lo:min(lo+keyRowsPerStatement, len(rows))]
		args = args[:0]
		for _, r := range part {
			args = append(args, int64(r.key), r.node, int(r.kind))
		}
		if _, err := x.tc.ExecContext(ctx, `INSERT INTO history_keys (key, node, kind) VALUES `+rowsOf("(?, ?, ?)", len(part))+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return nil, fmt.Errorf("catalog: history keys: %w", err)
		}
	}
	var counted []KeyRef // each key once
	for _, r := range rows {
		if r.kind != KeyPin && (len(counted) == 0 || counted[len(counted)-1].Key != r.key) {
			counted = append(counted, nodes[order[r.at]].keys[r.i])
		}
	}
	if err := x.capCrossed(ctx, counted, added); err != nil {
		return nil, err
	}
	// Hubs: nodes whose place keys passed the cap with these.
	for _, at := range order {
		n := nodes[at]
		if n.places > x.cap || n.places+placeKeys(n.keys) <= x.cap {
			continue
		}
		for _, k := range append(n.have, n.keys...) {
			if k.Kind != KeyPlace {
				continue
			}
			if _, err := x.tc.ExecContext(ctx, `INSERT INTO history_dirty (node) SELECT node FROM history_keys WHERE key = ? ON CONFLICT DO NOTHING`, int64(k.Key)); err != nil {
				return nil, fmt.Errorf("catalog: history hub %d: %w", n.id, err)
			}
		}
	}
	dirty := make([]int64, len(order))
	for i, at := range order {
		dirty[i] = nodes[at].id
	}
	slices.Sort(dirty)
	err := eachChunk(int64Args(dirty), func(part []any) error {
		_, err := x.tc.ExecContext(ctx, `INSERT INTO history_dirty (node) VALUES `+rowsOf("(?)", len(part))+` ON CONFLICT DO NOTHING`, part...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: history dirty nodes: %w", err)
	}
	ids := make([]int64, len(adds))
	for i, a := range adds {
		ids[i] = nodes[nodeAt{a.Workspace, a.Blob}].id
	}
	return ids, nil
}

// placeKeys counts the place keys among keys.
func placeKeys(keys []KeyRef) int {
	n := 0
	for _, k := range keys {
		if k.Kind == KeyPlace {
			n++
		}
	}
	return n
}

// readNodes fills in the nodes that exist, of the blobs given.
func (x *IndexTx) readNodes(ctx context.Context, blobs []any, nodes map[nodeAt]*nodeAdd) error {
	return eachRowIn(ctx, x.tc.query, `SELECT id, blob_id, workspace, places, keyset FROM history_nodes WHERE blob_id IN `, blobs, func(rows *sql.Rows) error {
		var (
			id, places int64
			blob, ws   string
			set        []byte
		)
		if err := rows.Scan(&id, &blob, &ws, &places, &set); err != nil {
			return fmt.Errorf("catalog: history nodes: %w", err)
		}
		b, err := dedupe.ParseID(blob)
		if err != nil {
			return fmt.Errorf("catalog: history node %d: %w", id, err)
		}
		n := nodes[nodeAt{ws, b}]
		if n == nil {
			return nil // the blob's node in another workspace
		}
		n.id, n.places = id, int(places)
		n.have, err = decodeKeyset(id, set)
		return err
	})
}

// createNodes inserts the nodes that readNodes did not find, with their
// keys (first's and the caller's), in the order given.
func (x *IndexTx) createNodes(ctx context.Context, order []nodeAt, nodes map[nodeAt]*nodeAdd, first func(ws string, c Content) []KeyRef) error {
	var fresh []nodeAt
	var blobs []dedupe.ID
	for _, at := range order {
		if nodes[at].id == 0 {
			fresh = append(fresh, at)
			blobs = append(blobs, at.blob)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	contents := map[dedupe.ID]Content{}
	if first != nil {
		var err error
		if contents, err = contentsOf(ctx, x.tc.query, blobs); err != nil {
			return err
		}
	}
	const perRow = 4
	for lo := 0; lo < len(fresh); lo += keyRowsPerStatement {
		part := fresh[lo:min(lo+keyRowsPerStatement, len(fresh))]
		args := make([]any, 0, perRow*len(part))
		for _, at := range part {
			n := nodes[at]
			n.created = true
			if first != nil {
				ct, ok := contents[at.blob]
				if !ok {
					ct = Content{Blob: at.blob}
				}
				n.keys = append(first(at.ws, ct), n.keys...)
			}
			n.keys = uniqueKeys(n.keys)
			args = append(args, at.blob.String(), at.ws, placeKeys(n.keys), appendKeyset([]byte{}, n.keys)) // never NULL
		}
		rows, err := x.tc.query(ctx, `INSERT INTO history_nodes (blob_id, workspace, places, keyset) VALUES `+rowsOf("(?, ?, ?, ?)", len(part))+` RETURNING id, blob_id, workspace`, args...)
		if err != nil {
			return fmt.Errorf("catalog: history nodes: %w", err)
		}
		for rows.Next() {
			var id int64
			var blob, ws string
			if err := rows.Scan(&id, &blob, &ws); err != nil {
				rows.Close()
				return fmt.Errorf("catalog: history nodes: %w", err)
			}
			b, err := dedupe.ParseID(blob)
			if err != nil {
				rows.Close()
				return fmt.Errorf("catalog: history node %d: %w", id, err)
			}
			nodes[nodeAt{ws, b}].id = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("catalog: history nodes: %w", err)
		}
	}
	return nil
}

// capCrossed records the keys whose count passed the cap with the rows
// just added (added: how many nodes a key gained), and marks their nodes
// dirty.
func (x *IndexTx) capCrossed(ctx context.Context, keys []KeyRef, added map[uint64]int) error {
	byKey := make(map[int64]KeyRef, len(keys))
	args := make([]any, 0, len(keys))
	for _, k := range keys {
		args = append(args, int64(k.Key))
		byKey[int64(k.Key)] = k
	}
	var crossed []int64
	err := eachChunk(args, func(part []any) error {
		rows, err := x.tc.query(ctx, `SELECT key, COUNT(*) FROM history_keys WHERE key IN (`+rowsOf("?", len(part))+`) GROUP BY key HAVING COUNT(*) > ?`, append(slices.Clip(part), x.cap)...) // not into the next chunk's args
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, n int64
			if err := rows.Scan(&k, &n); err != nil {
				return err
			}
			if n-int64(added[uint64(k)]) <= int64(x.cap) {
				crossed = append(crossed, k)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("catalog: history key sizes: %w", err)
	}
	for _, k := range crossed {
		kr := byKey[k]
		if _, err := x.tc.ExecContext(ctx, `INSERT INTO history_capped (key, nodes, what, label) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET nodes = excluded.nodes`, k, x.cap+1, kr.What, kr.Label); err != nil {
			return fmt.Errorf("catalog: history key sizes: %w", err)
		}
		if _, err := x.tc.ExecContext(ctx, `INSERT INTO history_dirty (node) SELECT node FROM history_keys WHERE key = ? ON CONFLICT DO NOTHING`, k); err != nil {
			return fmt.Errorf("catalog: history key sizes: %w", err)
		}
	}
	return nil
}

// NodesOfBlobs lists the nodes of the blobs (one per workspace a blob is
// in).
func (x *IndexTx) NodesOfBlobs(ctx context.Context, blobs []dedupe.ID) ([]NodeRef, error) {
	args := make([]any, len(blobs))
	for i, b := range blobs {
		args[i] = b.String()
	}
	var out []NodeRef
	err := eachRowIn(ctx, x.tc.query, `SELECT id, blob_id, workspace FROM history_nodes WHERE blob_id IN `, args, func(rows *sql.Rows) error {
		var n NodeRef
		var blob string
		if err := rows.Scan(&n.ID, &blob, &n.Workspace); err != nil {
			return err
		}
		var err error
		n.Blob, err = dedupe.ParseID(blob)
		out = append(out, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: history nodes: %w", err)
	}
	return out, nil
}

// DoneContents takes the blobs' sketches off the queue.
func (x *IndexTx) DoneContents(ctx context.Context, blobs []dedupe.ID) error {
	args := make([]any, len(blobs))
	for i, b := range blobs {
		args[i] = b.String()
	}
	return eachChunk(args, func(part []any) error {
		if _, err := x.tc.ExecContext(ctx, `DELETE FROM history_todo_contents WHERE blob_id IN (`+rowsOf("?", len(part))+`)`, part...); err != nil {
			return fmt.Errorf("catalog: history index: %w", err)
		}
		return nil
	})
}
