package workspace

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/syncd/syncd/dedupe"
)

// The history index (migration 005): nodes (a blob in a workspace), the
// evidence keys each carries, how many nodes carry each key, and the
// nodes whose component must be rebuilt. The engine computes keys (the
// catalog stores 64-bit numbers it does not interpret); this file is
// every statement on those tables. Ingest only queues work for the index,
// through triggers in its own transaction; IndexTx turns the queue into
// index rows and dirty nodes, and ReplaceComponent stores a component's
// rebuilt documents and clears its dirty nodes.

// NodeRef is one history node.
type NodeRef struct {
	ID        int64
	Workspace string
	Blob      dedupe.ID
}

// preparer is a *sql.DB, *sql.Conn or *sql.Tx.
type preparer interface {
	PrepareContext(ctx context.Context, q string) (*sql.Stmt, error)
}

// onPrepare, when set (by tests), hears every statement the catalog
// prepares to run many times: the hot statements, which must use an
// index (TestHotStatementsUseIndexes).
var onPrepare func(q string)

// prepare prepares a statement that runs once per item.
func prepare(ctx context.Context, p preparer, q string) (*sql.Stmt, error) {
	if onPrepare != nil {
		onPrepare(q)
	}
	return p.PrepareContext(ctx, q)
}

// query runs a prepared query within the transaction.
func (t *txStmts) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := t.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t *txStmts) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := t.prepare(ctx, q)
	if err != nil {
		return t.tx.QueryRowContext(ctx, q, args...) // reports the same error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

func (t *txStmts) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	st := t.st[q]
	if st == nil {
		var err error
		if st, err = prepare(ctx, t.tx, q); err != nil {
			return nil, err
		}
		t.st[q] = st
	}
	return st, nil
}

// Indexer writes the history index, one transaction at a time, on a
// connection of its own whose statement journals stay in memory: its
// multi-row inserts would otherwise write every page they touch again to
// a temporary file (three quarters of the time of indexing). A statement
// journal holds the pages one statement changes: a few, not the catalog.
// Its page cache is larger too (SetIndexCache). Close it after use.
type Indexer struct {
	conn    *sql.Conn
	cap     int
	pragmas bool // SQLite: set on conn, reset by Close
}

// DefaultIndexCacheMB is the page cache of the indexer: keys are hashes,
// so inserts land all over the index, and with SQLite's default 2 MB
// cache most of them wrote a page out to the log and read it back.
const DefaultIndexCacheMB = 64

// SetIndexCache sets the indexer's page cache (store.cache_mb; 0: the
// default).
func (c *Catalog) SetIndexCache(mb int) {
	if mb <= 0 {
		mb = DefaultIndexCacheMB
	}
	c.indexCacheMB = mb
}

// indexCache is the page cache of the indexer and rebuild, in MB.
func (c *Catalog) indexCache() int {
	if c.indexCacheMB <= 0 {
		return DefaultIndexCacheMB
	}
	return c.indexCacheMB
}

// NewIndexer returns an indexer; keys carried by more than keyCap nodes
// are oversized.
func (c *Catalog) NewIndexer(ctx context.Context, keyCap int) (*Indexer, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	if c.pg {
		// No journals or page cache of the connection's own to set:
		// the server's shared buffers serve every connection.
		return &Indexer{conn: conn, cap: keyCap}, nil
	}
	if _, err := conn.ExecContext(ctx, c.historyPragmas()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	return &Indexer{conn: conn, cap: keyCap, pragmas: true}, nil
}

// historyPragmas set up a SQLite connection that indexes or rebuilds:
// temporary tables and a multi-row insert's statement journal (a
// statement's pages) in memory, not in a file written and truncated for
// every batch (4% of a full rebuild's CPU); the WAL checkpointed every
// 40 MB, not 4, so that an index page written again and again between
// checkpoints is copied into the catalog once (checkpoints were 5%); and
// store.cache_mb of page cache.
func (c *Catalog) historyPragmas() string {
	return `PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 10000; PRAGMA cache_size = -` + strconv.Itoa(c.indexCache()<<10)
}

// historyPragmasReset puts SQLite's defaults back.
const historyPragmasReset = `PRAGMA temp_store = DEFAULT; PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -2000`

// Close puts the connection back in the pool as it was.
func (ix *Indexer) Close() {
	if ix.pragmas {
		ix.conn.ExecContext(context.Background(), historyPragmasReset)
	}
	ix.conn.Close()
}

// IndexTx is one write transaction on the history index.
type IndexTx struct {
	tc   *txStmts
	cap  int
	done bool
}

// Begin starts a transaction.
func (ix *Indexer) Begin(ctx context.Context) (*IndexTx, error) {
	tx, err := ix.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	return &IndexTx{tc: &txStmts{tx: tx, st: map[string]*sql.Stmt{}}, cap: ix.cap}, nil
}

// Commit commits the transaction.
func (x *IndexTx) Commit() error {
	err := x.tc.tx.Commit()
	x.finish()
	if err != nil {
		return fmt.Errorf("catalog: history index: commit: %w", err)
	}
	return nil
}

// Rollback abandons the transaction (a no-op after Commit).
func (x *IndexTx) Rollback() {
	x.tc.tx.Rollback()
	x.finish()
}

func (x *IndexTx) finish() {
	if !x.done {
		x.done = true
		for _, st := range x.tc.st {
			st.Close()
		}
	}
}

// TodoSightings returns up to limit queued sightings after the id
// after, in id order, with what their history keys are made of: of the
// lineage, only the mail thread ids and the SharePoint item (decoding the
// rest was half the time of indexing). It reads outside the indexer's
// transaction, so that the next chunk is read while the last is written:
// take exactly the sightings returned off the queue (DoneSightings).
func (c *Catalog) TodoSightings(ctx context.Context, after int64, limit int) ([]Sighting, error) {
	st, err := prepare(ctx, c.db, `SELECT sightings.id, sightings.source, sightings.kind, sightings.blob_id, sightings.name, sightings.workspace, sightings.lineage FROM history_todo_sightings JOIN sightings ON sightings.id = history_todo_sightings.id WHERE history_todo_sightings.id > ? ORDER BY history_todo_sightings.id LIMIT ?`)
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	defer st.Close()
	rows, err := st.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	defer rows.Close()
	out := make([]Sighting, 0, min(limit, 1<<14)) // a chunk's worth: appends to a big struct's slice were a third of this call
	var lin []byte
	for rows.Next() {
		var s Sighting
		var blob string
		if err := rows.Scan(&s.ID, &s.Source, &s.Kind, &blob, &s.Name, &s.Workspace, &lin); err != nil {
			return nil, err
		}
		if s.Blob, err = dedupe.ParseID(blob); err != nil {
			return nil, fmt.Errorf("catalog: sighting %d: %w", s.ID, err)
		}
		var k keyLineage
		if err := json.Unmarshal(lin, &k); err != nil {
			return nil, fmt.Errorf("catalog: sighting %d lineage: %w", s.ID, err)
		}
		s.Lineage.Kind = s.Kind
		s.Lineage.MessageID, s.Lineage.InReplyTo, s.Lineage.References, s.Lineage.InnerMessageIDs = k.MessageID, k.InReplyTo, k.References, k.Inner
		s.Lineage.ItemID = k.ItemID
		out = append(out, s)
	}
	return out, rows.Err()
}

// keyLineage is the part of connectors.Lineage history keys read.
type keyLineage struct {
	MessageID  string   `json:"message_id"`
	InReplyTo  []string `json:"in_reply_to"`
	References []string `json:"references"`
	Inner      []string `json:"inner_message_ids"`
	ItemID     string   `json:"item_id"`
}

// TodoOrphans removes queued sighting ids whose sighting no longer exists
// (a queue row the join of TodoSightings never returns).
func (x *IndexTx) TodoOrphans(ctx context.Context) error {
	_, err := x.tc.ExecContext(ctx, `DELETE FROM history_todo_sightings WHERE id NOT IN (SELECT id FROM sightings)`)
	return err
}

// DoneSightings takes the sightings off the queue. By id, not up to the
// last: on PostgreSQL ids are drawn before their transactions commit, so
// a sighting with a smaller id can be queued after a larger one was read.
func (x *IndexTx) DoneSightings(ctx context.Context, ids []int64) error {
	return eachChunk(int64Args(ids), func(part []any) error {
		if _, err := x.tc.ExecContext(ctx, `DELETE FROM history_todo_sightings WHERE id IN (`+rowsOf("?", len(part))+`)`, part...); err != nil {
			return fmt.Errorf("catalog: history index: %w", err)
		}
		return nil
	})
}

// TodoContents returns up to limit queued text sketches.
func (x *IndexTx) TodoContents(ctx context.Context, limit int) ([]Content, error) {
	rows, err := x.tc.query(ctx, `SELECT history_todo_contents.blob_id, COALESCE(c.kind, ''), COALESCE(c.tokens, 0), COALESCE(c.sketch, '[]') FROM history_todo_contents LEFT JOIN blob_content c ON c.blob_id = history_todo_contents.blob_id ORDER BY history_todo_contents.blob_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	defer rows.Close()
	var out []Content
	for rows.Next() {
		var blob, sk string
		var ct Content
		if err := rows.Scan(&blob, &ct.Kind, &ct.Tokens, &sk); err != nil {
			return nil, err
		}
		if ct.Blob, err = dedupe.ParseID(blob); err != nil {
			return nil, fmt.Errorf("catalog: history index: content %q: %w", blob, err)
		}
		ct.Sketch = parseSketch(sk)
		out = append(out, ct)
	}
	return out, rows.Err()
}

// TodoPins returns the queued pins.
func (x *IndexTx) TodoPins(ctx context.Context) ([]Pin, error) {
	rows, err := x.tc.query(ctx, `SELECT p.id, p.kind, p.args, p.actor, p.created FROM history_todo_pins JOIN pins p ON p.id = history_todo_pins.id ORDER BY history_todo_pins.id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	return scanPins(rows)
}

// DonePins empties the pin queue.
func (x *IndexTx) DonePins(ctx context.Context) error {
	_, err := x.tc.ExecContext(ctx, `DELETE FROM history_todo_pins`)
	return err
}

// Key kinds in the history index.
const (
	KeyPlace = 0 // name family, mail thread, SharePoint item: counted per key and per node
	KeyText  = 1 // a text band: counted per key
	KeyPin   = 2 // a person's pin: never counted, never capped
)

// keyRowsPerStatement: rows per multi-row insert (3 parameters a row,
// well under SQLite's limit).
const keyRowsPerStatement = 128

// rowsOf is n copies of row, comma separated.
// eachChunk calls fn with the args inChunk at a time (the arguments of
// one statement's IN list).
func eachChunk(args []any, fn func([]any) error) error {
	for lo := 0; lo < len(args); lo += inChunk {
		if err := fn(args[lo:min(lo+inChunk, len(args))]); err != nil {
			return err
		}
	}
	return nil
}

// eachRowIn runs head, a statement ending in "IN ", with a chunk of args
// at a time as its list, and calls scan for each row.
func eachRowIn(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error), head string, args []any, scan func(*sql.Rows) error) error {
	return eachChunk(args, func(part []any) error {
		rows, err := query(ctx, head+"("+rowsOf("?", len(part))+")", part...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// int64Args is ids as the arguments of a statement.
func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func rowsOf(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// uniqueKeys sorts keys and drops repeats (of the key: one kind a key).
func uniqueKeys(keys []KeyRef) []KeyRef {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b KeyRef) int { return cmp.Compare(a.Key, b.Key) })
	return slices.CompactFunc(out, func(a, b KeyRef) bool { return a.Key == b.Key })
}

// keyset encoding: 8 bytes of key, 4 of kind, little endian.
func encodeKeyset(ks []KeyRef) []byte { return appendKeyset(nil, ks) }

func appendKeyset(buf []byte, ks []KeyRef) []byte {
	for _, k := range ks {
		buf = binary.LittleEndian.AppendUint64(buf, k.Key)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(k.Kind))
	}
	return buf
}

func decodeKeyset(node int64, b []byte) ([]KeyRef, error) {
	if len(b)%12 != 0 {
		return nil, fmt.Errorf("catalog: history node %d: keyset of %d bytes", node, len(b))
	}
	out := make([]KeyRef, 0, len(b)/12)
	for i := 0; i < len(b); i += 12 {
		out = append(out, KeyRef{Key: binary.LittleEndian.Uint64(b[i:]), Node: node, Kind: int(binary.LittleEndian.Uint32(b[i+8:]))})
	}
	return out, nil
}

// SetFull makes the next rebuild cover every component, with the given
// cap (a changed cap changes which keys are evidence everywhere).
func (x *IndexTx) SetFull(ctx context.Context, keyCap int) error {
	for _, kv := range [][2]string{{"full", "1"}, {"cap", strconv.Itoa(keyCap)}} {
		if _, err := x.tc.ExecContext(ctx, `INSERT INTO history_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, kv[0], kv[1]); err != nil {
			return err
		}
	}
	// The capped keys under the new cap: one pass over the index.
	if _, err := x.tc.ExecContext(ctx, `DELETE FROM history_capped`); err != nil {
		return err
	}
	_, err := x.tc.ExecContext(ctx, `INSERT INTO history_capped (key, nodes, what, label) SELECT key, COUNT(*), CASE MIN(kind) WHEN 1 THEN 'text-band' ELSE '' END, '' FROM history_keys WHERE kind <> 2 GROUP BY key HAVING COUNT(*) > ?`, keyCap)
	return err
}

// HistoryIndexState is what the next rebuild has to do.
type HistoryIndexState struct {
	Full    bool // every component
	Cap     int  // the key cap the index was last rebuilt with (0: none yet)
	Dirty   int  // dirty nodes
	Nodes   int  // nodes in all
	Pending bool // ingest queued work the index does not hold yet
}

// HistoryIndex reports the state of the history index.
func (c *Catalog) HistoryIndex(ctx context.Context) (HistoryIndexState, error) {
	var st HistoryIndexState
	var full, capText sql.NullString
	var pending int
	err := c.db.QueryRowContext(ctx, `SELECT
		(SELECT value FROM history_meta WHERE name = 'full'),
		(SELECT value FROM history_meta WHERE name = 'cap'),
		(SELECT COUNT(*) FROM history_dirty),
		(SELECT COALESCE(MAX(id), 0) FROM history_nodes),
		CASE WHEN EXISTS (SELECT 1 FROM history_todo_sightings) OR EXISTS (SELECT 1 FROM history_todo_contents) OR EXISTS (SELECT 1 FROM history_todo_pins) THEN 1 ELSE 0 END`).
		Scan(&full, &capText, &st.Dirty, &st.Nodes, &pending)
	if err != nil {
		return st, fmt.Errorf("catalog: history index: %w", err)
	}
	st.Full, st.Pending = full.String == "1", pending != 0
	st.Cap, _ = strconv.Atoi(capText.String)
	return st, nil
}

// CappedKeys lists the keys carried by more than keyCap nodes.
func (c *Catalog) CappedKeys(ctx context.Context, keyCap int) (map[uint64]int, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT key, nodes FROM history_capped WHERE nodes > ?`, keyCap)
	if err != nil {
		return nil, fmt.Errorf("catalog: capped keys: %w", err)
	}
	defer rows.Close()
	out := map[uint64]int{}
	for rows.Next() {
		var k int64
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[uint64(k)] = n
	}
	return out, rows.Err()
}

// Hubs lists the nodes that carry more than keyCap place keys.
func (c *Catalog) Hubs(ctx context.Context, keyCap int) (map[int64]bool, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id FROM history_nodes WHERE places > ?`, keyCap)
	if err != nil {
		return nil, fmt.Errorf("catalog: history hubs: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// KeyRef is one row of the history index: a node carries a key.
type KeyRef struct {
	Key  uint64
	Node int64
	Kind int
	// What and Label explain the key when it is capped (history.Key); not
	// read back from the index.
	What, Label string
}

// EachKeyGroup calls fn with the rows of every key, in key order (the
// slice is reused between calls).
func (c *Catalog) EachKeyGroup(ctx context.Context, fn func(rows []KeyRef)) error {
	rows, err := c.db.QueryContext(ctx, `SELECT key, node, kind FROM history_keys ORDER BY key, node`)
	if err != nil {
		return fmt.Errorf("catalog: history keys: %w", err)
	}
	defer rows.Close()
	var group []KeyRef
	for rows.Next() {
		var k, n int64
		var kind int
		if err := rows.Scan(&k, &n, &kind); err != nil {
			return err
		}
		if len(group) > 0 && group[0].Key != uint64(k) {
			fn(group)
			group = group[:0]
		}
		group = append(group, KeyRef{Key: uint64(k), Node: n, Kind: kind})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(group) > 0 {
		fn(group)
	}
	return nil
}

// CappedKey is an evidence key carried by more than the cap of nodes.
type CappedKey struct {
	Key   uint64
	Nodes int    // when it passed the cap (the index does not count further)
	What  string // history.KeyName, ...; "" when counted again after a change of cap
	Label string
}

// Hub is a node with more than the cap of place keys.
type Hub struct {
	NodeRef
	Places int
	Name   string // one of its names
}

// Caps lists the capped keys and the hubs of the history index.
func (c *Catalog) Caps(ctx context.Context, keyCap int) ([]CappedKey, []Hub, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT key, nodes, what, label FROM history_capped WHERE nodes > ? ORDER BY what, label, key`, keyCap)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: capped keys: %w", err)
	}
	var keys []CappedKey
	for rows.Next() {
		var k CappedKey
		var key int64
		if err := rows.Scan(&key, &k.Nodes, &k.What, &k.Label); err != nil {
			rows.Close()
			return nil, nil, err
		}
		k.Key = uint64(key)
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = c.db.QueryContext(ctx, `SELECT n.id, n.workspace, n.blob_id, n.places, COALESCE((SELECT MIN(s.name) FROM sightings s WHERE s.blob_id = n.blob_id AND s.workspace = n.workspace), '') FROM history_nodes n WHERE n.places > ? ORDER BY n.places DESC, n.id`, keyCap)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: history hubs: %w", err)
	}
	defer rows.Close()
	var hubs []Hub
	for rows.Next() {
		var h Hub
		var blob string
		if err := rows.Scan(&h.ID, &h.Workspace, &blob, &h.Places, &h.Name); err != nil {
			return nil, nil, err
		}
		h.Blob, _ = dedupe.ParseID(blob)
		hubs = append(hubs, h)
	}
	return keys, hubs, rows.Err()
}

// HistoryReader reads the history index and the sightings of nodes, with
// its statements prepared once.
type HistoryReader struct {
	c    *Catalog
	conn *sql.Conn // a RebuildReader's own connection; nil: the pool
	st   map[string]*sql.Stmt
}

// HistoryReader returns a reader; Close it after use.
func (c *Catalog) HistoryReader() *HistoryReader {
	return &HistoryReader{c: c, st: map[string]*sql.Stmt{}}
}

// RebuildReader returns a reader on a connection of its own with the
// indexer's page cache (store.cache_mb), through which the rebuild also
// writes (ReplaceComponents): with SQLite's 2 MB default, a full rebuild
// spent a fifth of its time reading and spilling the same index pages.
// Close it after use.
func (c *Catalog) RebuildReader(ctx context.Context) (*HistoryReader, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: history: %w", err)
	}
	// On PostgreSQL the server's shared buffers serve every connection.
	if !c.pg {
		if _, err := conn.ExecContext(ctx, c.historyPragmas()); err != nil {
			conn.Close()
			return nil, fmt.Errorf("catalog: history: %w", err)
		}
	}
	return &HistoryReader{c: c, conn: conn, st: map[string]*sql.Stmt{}}, nil
}

// Close releases the prepared statements and a RebuildReader's
// connection, put back in the pool as it was.
func (r *HistoryReader) Close() {
	for _, st := range r.st {
		st.Close()
	}
	if r.conn != nil {
		if !r.c.pg { // SQLite: what RebuildReader set
			r.conn.ExecContext(context.Background(), historyPragmasReset)
		}
		r.conn.Close()
	}
}

func (r *HistoryReader) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st := r.st[q]
	if st == nil {
		var p preparer = r.c.db
		if r.conn != nil {
			p = r.conn
		}
		var err error
		if st, err = prepare(ctx, p, q); err != nil {
			return nil, err
		}
		r.st[q] = st
	}
	return st.QueryContext(ctx, args...)
}

func (r *HistoryReader) int64s(ctx context.Context, q string, arg any) ([]int64, error) {
	rows, err := r.query(ctx, q, arg)
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var x int64
		if err := rows.Scan(&x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// DirtyNodes lists the dirty nodes, ascending.
func (r *HistoryReader) DirtyNodes(ctx context.Context) ([]int64, error) {
	return r.int64s(ctx, `SELECT node FROM history_dirty WHERE node > ? ORDER BY node`, -1)
}

// KeysOf lists the keys the nodes carry, a chunk of nodes a statement
// (a statement a node was a round trip each on PostgreSQL).
func (r *HistoryReader) KeysOf(ctx context.Context, nodes []int64) ([]KeyRef, error) {
	var out []KeyRef
	err := eachRowIn(ctx, r.query, `SELECT id, keyset FROM history_nodes WHERE id IN `, int64Args(nodes), func(rows *sql.Rows) error {
		var id int64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return err
		}
		ks, err := decodeKeyset(id, b)
		out = append(out, ks...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: keys of history nodes: %w", err)
	}
	return out, nil
}

// NodesOf lists the nodes that carry the keys, a chunk of keys a
// statement.
func (r *HistoryReader) NodesOf(ctx context.Context, keys []uint64) ([]KeyRef, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = int64(k)
	}
	var out []KeyRef
	err := eachRowIn(ctx, r.query, `SELECT key, node, kind FROM history_keys WHERE key IN `, args, func(rows *sql.Rows) error {
		var k KeyRef
		var key int64
		if err := rows.Scan(&key, &k.Node, &k.Kind); err != nil {
			return err
		}
		k.Key = uint64(key)
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: history index: %w", err)
	}
	return out, nil
}

// Node returns a node's workspace and blob.
func (r *HistoryReader) Node(ctx context.Context, id int64) (NodeRef, error) {
	rows, err := r.query(ctx, `SELECT blob_id, workspace FROM history_nodes WHERE id = ?`, id)
	if err != nil {
		return NodeRef{}, fmt.Errorf("catalog: history node %d: %w", id, err)
	}
	defer rows.Close()
	n := NodeRef{ID: id}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return n, err
		}
		return n, fmt.Errorf("catalog: history node %d: not found", id)
	}
	var blob string
	if err := rows.Scan(&blob, &n.Workspace); err != nil {
		return n, err
	}
	n.Blob, err = dedupe.ParseID(blob)
	return n, err
}

// inChunk is how many values an IN (...) list of the readers holds.
const inChunk = 200

// Nodes returns the nodes with the given ids (in any order).
func (r *HistoryReader) Nodes(ctx context.Context, ids []int64) ([]NodeRef, error) {
	out := make([]NodeRef, 0, len(ids))
	err := eachRowIn(ctx, r.query, `SELECT id, blob_id, workspace FROM history_nodes WHERE id IN `, int64Args(ids), func(rows *sql.Rows) error {
		var n NodeRef
		var blob string
		if err := rows.Scan(&n.ID, &blob, &n.Workspace); err != nil {
			return err
		}
		var err error
		if n.Blob, err = dedupe.ParseID(blob); err != nil {
			return fmt.Errorf("history node %d: %w", n.ID, err)
		}
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: history nodes: %w", err)
	}
	if len(out) != len(ids) {
		return nil, fmt.Errorf("catalog: history nodes: %d of %d found", len(out), len(ids))
	}
	return out, nil
}

// SightingsOfNodes calls fn for the sightings of the nodes, a few hundred
// blobs a query.
func (r *HistoryReader) SightingsOfNodes(ctx context.Context, nodes []NodeRef, fn func(Sighting) error) error {
	want := make(map[NodeRef]bool, len(nodes))
	var blobs []any
	seen := map[dedupe.ID]bool{}
	for _, n := range nodes {
		want[NodeRef{Workspace: n.Workspace, Blob: n.Blob}] = true
		if !seen[n.Blob] {
			seen[n.Blob] = true
			blobs = append(blobs, n.Blob.String())
		}
	}
	for lo := 0; lo < len(blobs); lo += inChunk {
		part := blobs[lo:min(lo+inChunk, len(blobs))]
		rows, err := r.query(ctx, `SELECT `+sightingCols+` FROM sightings WHERE blob_id IN (`+rowsOf("?", len(part))+`)`, part...)
		if err != nil {
			return fmt.Errorf("catalog: sightings of history nodes: %w", err)
		}
		for rows.Next() {
			s, err := scanSighting(rows)
			if err == nil && want[NodeRef{Workspace: s.Workspace, Blob: s.Blob}] {
				err = fn(s)
			}
			if err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// SightingsOf calls fn for the sightings of a node.
func (r *HistoryReader) SightingsOf(ctx context.Context, n NodeRef, fn func(Sighting) error) error {
	rows, err := r.query(ctx, `SELECT `+sightingCols+` FROM sightings WHERE blob_id = ? AND workspace = ?`, n.Blob.String(), n.Workspace)
	if err != nil {
		return fmt.Errorf("catalog: sightings of %s: %w", n.Blob.Short(), err)
	}
	return eachSighting(rows, fn)
}

// ReplaceComponents stores the rebuilt documents of some components, in
// one transaction: the documents that held any of their nodes are
// replaced by docs (a document stored exactly as it was is not touched),
// and the nodes are no longer dirty.
func (c *Catalog) ReplaceComponents(ctx context.Context, nodes []NodeRef, docs []Document) (HistoryDiff, error) {
	return c.replaceComponents(ctx, c.db, nodes, docs)
}

// ReplaceComponents is Catalog.ReplaceComponents on the reader's
// connection (and its page cache, for a RebuildReader).
func (r *HistoryReader) ReplaceComponents(ctx context.Context, nodes []NodeRef, docs []Document) (HistoryDiff, error) {
	if r.conn == nil {
		return r.c.replaceComponents(ctx, r.c.db, nodes, docs)
	}
	return r.c.replaceComponents(ctx, r.conn, nodes, docs)
}

func (c *Catalog) replaceComponents(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, nodes []NodeRef, docs []Document) (HistoryDiff, error) {
	diff := HistoryDiff{Documents: len(docs)}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return diff, fmt.Errorf("catalog: history: %w", err)
	}
	defer tx.Rollback()
	tc := &txStmts{tx: tx, st: map[string]*sql.Stmt{}}
	// What held the nodes, a chunk of blobs a statement (a statement a
	// node was a third of a full rebuild's writing on SQLite, and a round
	// trip each on PostgreSQL).
	want := make(map[NodeRef]bool, len(nodes))
	var blobs []any
	for _, n := range nodes {
		k := NodeRef{Workspace: n.Workspace, Blob: n.Blob}
		if !want[k] {
			want[k] = true
			blobs = append(blobs, n.Blob.String())
		}
	}
	old := map[string]bool{}
	err = eachRowIn(ctx, tc.query, `SELECT DISTINCT v.document_key, d.workspace, v.blob_id FROM versions v JOIN documents d ON d.key = v.document_key WHERE v.blob_id IN `, blobs, func(rows *sql.Rows) error {
		var k, ws, blob string
		if err := rows.Scan(&k, &ws, &blob); err != nil {
			return err
		}
		id, err := dedupe.ParseID(blob)
		if err != nil {
			return fmt.Errorf("document %s: %w", k, err)
		}
		if want[NodeRef{Workspace: ws, Blob: id}] {
			old[k] = true
		}
		return nil
	})
	if err != nil {
		return diff, fmt.Errorf("catalog: history: %w", err)
	}
	h := newRowHasher()
	stored := map[string]digest{}
	oldKeys := make([]any, 0, len(old))
	for k := range old {
		oldKeys = append(oldKeys, k)
	}
	if err := storedDigestOf(ctx, tc, h, oldKeys, stored); err != nil {
		return diff, err
	}
	var write []Document
	var drop []string
	var fresh []any // keys not stored for these nodes
	keep := make(map[string]bool, len(docs))
	for _, d := range docs {
		if keep[d.Key] {
			return diff, fmt.Errorf("catalog: history: document %s twice", d.Key)
		}
		keep[d.Key] = true
		old, ok := stored[d.Key]
		if !ok {
			fresh = append(fresh, d.Key)
		}
		if ok && old == documentDigest(h, d) {
			diff.Unchanged++
			continue
		}
		if ok {
			drop = append(drop, d.Key)
		}
		write = append(write, d)
	}
	// A key held by a document of another component would be
	// overwritten: never expected (keys name a node), refused.
	err = eachChunk(fresh, func(part []any) error {
		var k string
		err := tc.queryRow(ctx, `SELECT key FROM documents WHERE key IN (`+rowsOf("?", len(part))+`) LIMIT 1`, part...).Scan(&k)
		if err == nil {
			return fmt.Errorf("catalog: history: document %s already stored for other blobs", k)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return diff, err
	}
	for k := range old {
		if !keep[k] {
			drop = append(drop, k)
			diff.Removed++
		}
	}
	if err := deleteDocuments(ctx, tx, drop, false); err != nil {
		return diff, err
	}
	// In key order: the inserts walk the documents' and versions' indexes
	// from one end to the other instead of all over them.
	slices.SortFunc(write, func(a, b Document) int { return strings.Compare(a.Key, b.Key) })
	if err := c.insertDocuments(ctx, tx, docs, write); err != nil {
		return diff, err
	}
	diff.Written = len(write)
	ids := make([]int64, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	err = eachChunk(int64Args(ids), func(part []any) error {
		if _, err := tc.ExecContext(ctx, `DELETE FROM history_dirty WHERE node IN (`+rowsOf("?", len(part))+`)`, part...); err != nil {
			return fmt.Errorf("catalog: history: %w", err)
		}
		return nil
	})
	if err != nil {
		return diff, err
	}
	if err := tx.Commit(); err != nil {
		return diff, fmt.Errorf("catalog: history: commit: %w", err)
	}
	return diff, nil
}

// FinishFull records that a rebuild of every component with keyCap ended.
func (c *Catalog) FinishFull(ctx context.Context, keyCap int) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO history_meta (name, value) VALUES ('full', '0'), ('cap', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, strconv.Itoa(keyCap))
	if err != nil {
		return fmt.Errorf("catalog: history: %w", err)
	}
	return nil
}

// storedDigestOf adds the digests of stored documents' rows to out, a
// chunk of documents a statement.
func storedDigestOf(ctx context.Context, tc *txStmts, h *rowHasher, keys []any, out map[string]digest) error {
	queries := []struct {
		q    string
		kind string
		cols int
	}{
		{`SELECT key, workspace, folder, name FROM documents WHERE key IN `, "d", 4},
		{`SELECT document_key, key, blob_id, CAST(seq AS TEXT), time, author FROM versions WHERE document_key IN `, "v", 6},
		{`SELECT document_key, version_key, parent_key, reason, confidence FROM version_parents WHERE document_key IN `, "p", 5},
		{`SELECT document_key, version_key, CAST(sighting_id AS TEXT) FROM version_sightings WHERE document_key IN `, "s", 3},
	}
	return eachChunk(keys, func(part []any) error {
		for _, q := range queries {
			rows, err := tc.query(ctx, q.q+"("+rowsOf("?", len(part))+")", part...)
			if err != nil {
				return fmt.Errorf("catalog: history: read stored %s rows of %s: %w", q.kind, part[0], err)
			}
			err = digestScan(rows, h, q.kind, q.cols, out)
			rows.Close()
			if err != nil {
				return fmt.Errorf("catalog: history: read stored %s rows of %s: %w", q.kind, part[0], err)
			}
		}
		return nil
	})
}
