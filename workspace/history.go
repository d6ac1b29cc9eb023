package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncd/syncd/dedupe"
)

// Document is a rebuilt document with its version DAG.
type Document struct {
	Key       string    `json:"key"`
	Workspace string    `json:"workspace"`
	Folder    string    `json:"folder"`
	Name      string    `json:"name"`
	Versions  []Version `json:"versions"`
}

// Version is one version of a document.
type Version struct {
	Key       string    `json:"key"`
	Blob      dedupe.ID `json:"blob"`
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Author    string    `json:"author"`
	Parents   []Link    `json:"parents,omitempty"`
	Sightings []int64   `json:"sightings"`
}

// Link is a parent edge with the evidence behind it.
type Link struct {
	Parent     string  `json:"parent"`
	Reason     string  `json:"reason"`
	Confidence float64 `json:"confidence"`
}

// HistoryDiff counts what ReplaceHistory changed.
type HistoryDiff struct {
	Documents int // documents in the new history
	Unchanged int // stored exactly as they were: not touched
	Written   int // new or changed documents (re)written
	Removed   int // stored documents no longer in the history
}

// ReplaceHistory stores a full rebuild in one transaction, replacing the
// previous one. Keys are deterministic, so unchanged documents keep theirs.
func (c *Catalog) ReplaceHistory(ctx context.Context, docs []Document) error {
	_, err := c.ReplaceHistoryDiff(ctx, docs)
	return err
}

// ReplaceHistoryDiff stores a full rebuild in one transaction, writing
// only the documents that differ from the stored history (compared by a
// digest of every stored row), and reports the counts. The stored history
// afterwards is exactly docs.
func (c *Catalog) ReplaceHistoryDiff(ctx context.Context, docs []Document) (HistoryDiff, error) {
	diff := HistoryDiff{Documents: len(docs)}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return diff, fmt.Errorf("catalog: history: %w", err)
	}
	defer tx.Rollback()
	h := newRowHasher()
	stored, err := storedDigests(ctx, tx, h)
	if err != nil {
		return diff, err
	}
	var write []Document
	keep := make(map[string]bool, len(docs))
	for _, d := range docs {
		if keep[d.Key] {
			return diff, fmt.Errorf("catalog: history: document %s twice", d.Key)
		}
		keep[d.Key] = true
		if old, ok := stored[d.Key]; ok && old == documentDigest(h, d) {
			diff.Unchanged++
			continue
		}
		write = append(write, d)
	}
	var drop []string
	for k := range stored {
		if !keep[k] {
			drop = append(drop, k)
			diff.Removed++
		}
	}
	for _, d := range write {
		if _, ok := stored[d.Key]; ok {
			drop = append(drop, d.Key)
		}
	}
	if err := deleteDocuments(ctx, tx, drop, len(drop) == len(stored)); err != nil {
		return diff, err
	}
	if err := c.insertDocuments(ctx, tx, docs, write); err != nil {
		return diff, err
	}
	diff.Written = len(write)
	if err := tx.Commit(); err != nil {
		return diff, fmt.Errorf("catalog: history: commit: %w", err)
	}
	return diff, nil
}

// deleteDocuments removes the rows of the given documents (all rows of the
// history tables when all is set).
func deleteDocuments(ctx context.Context, tx *sql.Tx, keys []string, all bool) error {
	tables := []string{"version_sightings", "version_parents", "versions", "documents"}
	if all {
		for _, t := range tables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("catalog: history: clear %s: %w", t, err)
			}
		}
		return nil
	}
	for _, t := range tables {
		col := "document_key"
		if t == "documents" {
			col = "key"
		}
		st, err := prepare(ctx, tx, `DELETE FROM `+t+` WHERE `+col+` = ?`)
		if err != nil {
			return fmt.Errorf("catalog: history: %w", err)
		}
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, k); err != nil {
				st.Close()
				return fmt.Errorf("catalog: history: remove document %s from %s: %w", k, t, err)
			}
		}
		st.Close()
	}
	return nil
}

// insertDocuments makes sure every workspace of docs exists, then inserts
// the documents of write.
func (c *Catalog) insertDocuments(ctx context.Context, tx *sql.Tx, docs, write []Document) error {
	ws := map[string]bool{}
	for _, d := range docs {
		if !ws[d.Workspace] {
			ws[d.Workspace] = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (name, created) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, d.Workspace, c.stamp()); err != nil {
				return fmt.Errorf("catalog: workspace %s: %w", d.Workspace, err)
			}
		}
	}
	if len(write) == 0 {
		return nil
	}
	rb := func(head, row string, cols int) *rowBatch {
		return &rowBatch{tx: tx, head: head, row: row, cols: cols, stmts: map[int]*sql.Stmt{}}
	}
	b := versionRows{
		doc:      rb(`INSERT INTO documents (key, workspace, folder, name) VALUES `, "(?, ?, ?, ?)", 4),
		ver:      rb(`INSERT INTO versions (document_key, key, blob_id, seq, time, author) VALUES `, "(?, ?, ?, ?, ?, ?)", 6),
		parent:   rb(`INSERT INTO version_parents (document_key, version_key, parent_key, reason, confidence) VALUES `, "(?, ?, ?, ?, ?)", 5),
		sighting: rb(`INSERT INTO version_sightings (sighting_id, document_key, version_key) VALUES `, "(?, ?, ?)", 3),
	}
	defer b.close()
	for _, d := range write {
		if err := b.doc.add(ctx, d.Key, d.Workspace, d.Folder, d.Name); err != nil {
			return fmt.Errorf("catalog: document %s: %w", d.Key, err)
		}
		for _, v := range d.Versions {
			if err := b.add(ctx, d.Key, v); err != nil {
				return err
			}
		}
	}
	return b.flush(ctx)
}

// versionRows batches the rows of documents and their versions.
type versionRows struct{ doc, ver, parent, sighting *rowBatch }

func (b versionRows) add(ctx context.Context, doc string, v Version) error {
	if err := b.ver.add(ctx, doc, v.Key, v.Blob.String(), v.Seq, formatTime(v.Time), v.Author); err != nil {
		return fmt.Errorf("catalog: version %s/%s: %w", doc, v.Key, err)
	}
	for _, l := range v.Parents {
		if err := b.parent.add(ctx, doc, v.Key, l.Parent, l.Reason, l.Confidence); err != nil {
			return fmt.Errorf("catalog: version %s/%s parent %s: %w", doc, v.Key, l.Parent, err)
		}
	}
	for _, sid := range v.Sightings {
		if err := b.sighting.add(ctx, sid, doc, v.Key); err != nil {
			return fmt.Errorf("catalog: sightings of %s/%s: %w", doc, v.Key, err)
		}
	}
	return nil
}

func (b versionRows) flush(ctx context.Context) error {
	for _, r := range []*rowBatch{b.doc, b.ver, b.parent, b.sighting} {
		if err := r.flush(ctx); err != nil {
			return fmt.Errorf("catalog: history: %w", err)
		}
	}
	return nil
}

func (b versionRows) close() {
	b.doc.close()
	b.ver.close()
	b.parent.close()
	b.sighting.close()
}

// rowBatch inserts rows many to a statement (a statement a row was most
// of the time of storing a large history).
type rowBatch struct {
	tx    *sql.Tx
	head  string // "INSERT INTO t (a, b) VALUES "
	row   string // "(?, ?)"
	cols  int
	args  []any
	stmts map[int]*sql.Stmt // by rows
}

const rowsPerInsert = 200

func (b *rowBatch) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	if len(b.args) >= rowsPerInsert*b.cols {
		return b.flush(ctx)
	}
	return nil
}

func (b *rowBatch) flush(ctx context.Context) error {
	n := len(b.args) / b.cols
	if n == 0 {
		return nil
	}
	st := b.stmts[n]
	if st == nil {
		var err error
		if st, err = prepare(ctx, b.tx, b.head+rowsOf(b.row, n)); err != nil {
			return err
		}
		b.stmts[n] = st
	}
	_, err := st.ExecContext(ctx, b.args...)
	b.args = b.args[:0]
	return err
}

func (b *rowBatch) close() {
	for _, st := range b.stmts {
		st.Close()
	}
}

// Documents loads every document with its versions, parents and sighting
// ids, ordered by key.
func (c *Catalog) Documents(ctx context.Context) ([]Document, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT key, workspace, folder, name FROM documents ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("catalog: documents: %w", err)
	}
	var docs []Document
	idx := map[string]int{}
	for rows.Next() {
		var d Document
		if err := rows.Scan(&d.Key, &d.Workspace, &d.Folder, &d.Name); err != nil {
			rows.Close()
			return nil, err
		}
		idx[d.Key] = len(docs)
		docs = append(docs, d)
	}
	rows.Close()
	vidx := map[[2]string]*Version{}
	rows, err = c.db.QueryContext(ctx, `SELECT document_key, key, blob_id, seq, time, author FROM versions ORDER BY document_key, seq, key`)
	if err != nil {
		return nil, fmt.Errorf("catalog: versions: %w", err)
	}
	for rows.Next() {
		var dk, blob, t string
		var v Version
		if err := rows.Scan(&dk, &v.Key, &blob, &v.Seq, &t, &v.Author); err != nil {
			rows.Close()
			return nil, err
		}
		v.Blob, _ = dedupe.ParseID(blob)
		v.Time = parseTime(t)
		if i, ok := idx[dk]; ok {
			docs[i].Versions = append(docs[i].Versions, v)
		}
	}
	rows.Close()
	for i := range docs {
		for j := range docs[i].Versions {
			vidx[[2]string{docs[i].Key, docs[i].Versions[j].Key}] = &docs[i].Versions[j]
		}
	}
	rows, err = c.db.QueryContext(ctx, `SELECT document_key, version_key, parent_key, reason, confidence FROM version_parents ORDER BY document_key, version_key, parent_key`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var dk, vk string
		var l Link
		if err := rows.Scan(&dk, &vk, &l.Parent, &l.Reason, &l.Confidence); err != nil {
			rows.Close()
			return nil, err
		}
		if v := vidx[[2]string{dk, vk}]; v != nil {
			v.Parents = append(v.Parents, l)
		}
	}
	rows.Close()
	rows, err = c.db.QueryContext(ctx, `SELECT document_key, version_key, sighting_id FROM version_sightings ORDER BY sighting_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var dk, vk string
		var sid int64
		if err := rows.Scan(&dk, &vk, &sid); err != nil {
			return nil, err
		}
		if v := vidx[[2]string{dk, vk}]; v != nil {
			v.Sightings = append(v.Sightings, sid)
		}
	}
	return docs, rows.Err()
}

// DiffDocuments lists the keys of the documents that are not the same in
// got and want (missing from one, or different), compared in the form the
// catalog stores them in: UTC times, parents by key, no empty lists.
func DiffDocuments(got, want []Document) []string {
	g, w := storedForm(got), storedForm(want)
	var out []string
	for k, d := range w {
		if o, ok := g[k]; !ok || !reflect.DeepEqual(o, d) {
			out = append(out, k)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// storedForm indexes documents by key in the form the catalog returns.
func storedForm(docs []Document) map[string]Document {
	out := make(map[string]Document, len(docs))
	for _, d := range docs {
		d.Versions = append([]Version(nil), d.Versions...)
		for i := range d.Versions {
			v := &d.Versions[i]
			v.Time = v.Time.UTC()
			v.Parents = append([]Link(nil), v.Parents...)
			sort.Slice(v.Parents, func(a, b int) bool { return v.Parents[a].Parent < v.Parents[b].Parent })
			if len(v.Parents) == 0 {
				v.Parents = nil
			}
		}
		out[d.Key] = d
	}
	return out
}

// EachSighting calls fn for every sighting in id order.
func (c *Catalog) EachSighting(ctx context.Context, fn func(Sighting) error) error {
	return c.EachSightingAfter(ctx, 0, fn)
}

// EachSightingAfter calls fn for every sighting with an id above after, in
// id order. Sightings are only ever added (a later run only marks one
// gone or back), so this is what a sync added since after was the highest
// id.
func (c *Catalog) EachSightingAfter(ctx context.Context, after int64, fn func(Sighting) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT `+sightingCols+` FROM sightings WHERE id > ? ORDER BY id`, after)
	if err != nil {
		return fmt.Errorf("catalog: sightings: %w", err)
	}
	return eachSighting(rows, fn)
}

// eachSighting calls fn for every row of a query of sightingCols, and
// closes rows.
func eachSighting(rows *sql.Rows, fn func(Sighting) error) error {
	defer rows.Close()
	for rows.Next() {
		s, err := scanSighting(rows)
		if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sightingCols are the columns scanSighting reads, in its order.
const sightingCols = `sightings.id, sightings.source, sightings.kind, sightings.ref, sightings.fingerprint, sightings.blob_id, sightings.name, sightings.path, sightings.size, sightings.time, sightings.author, sightings.workspace, sightings.folder, sightings.lineage, sightings.run_id, sightings.seen, sightings.gone`

func scanSighting(rows *sql.Rows) (Sighting, error) {
	var s Sighting
	var blob, t, lin, seen, gone string
	if err := rows.Scan(&s.ID, &s.Source, &s.Kind, &s.Ref, &s.Fingerprint, &blob, &s.Name, &s.Path, &s.Size, &t, &s.Author, &s.Workspace, &s.Folder, &lin, &s.RunID, &seen, &gone); err != nil {
		return s, err
	}
	s.Blob, _ = dedupe.ParseID(blob)
	s.Time, s.Seen = parseTime(t), parseTime(seen)
	if gone != "" {
		s.Gone = parseTime(gone)
	}
	if err := json.Unmarshal([]byte(lin), &s.Lineage); err != nil {
		return s, fmt.Errorf("catalog: sighting %d lineage: %w", s.ID, err)
	}
	return s, nil
}

// ContentsOf returns the text sketches of the given blobs that have one.
func (c *Catalog) ContentsOf(ctx context.Context, ids []dedupe.ID) (map[dedupe.ID]Content, error) {
	return contentsOf(ctx, c.db.QueryContext, ids)
}

// contentsOf reads the sketches of blobs through query (the catalog's or
// a transaction's), a chunk of blobs a statement: a statement a blob was
// a round trip each on PostgreSQL.
func contentsOf(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error), ids []dedupe.ID) (map[dedupe.ID]Content, error) {
	out := map[dedupe.ID]Content{}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id.String()
	}
	err := eachRowIn(ctx, query, `SELECT blob_id, kind, tokens, sketch, modified, revision FROM blob_content WHERE blob_id IN `, args, func(rows *sql.Rows) error {
		var blob, sk, modified string
		var ct Content
		if err := rows.Scan(&blob, &ct.Kind, &ct.Tokens, &sk, &modified, &ct.Revision); err != nil {
			return err
		}
		ct.Modified = parseTime(modified)
		var err error
		if ct.Blob, err = dedupe.ParseID(blob); err != nil {
			return fmt.Errorf("content %q: %w", blob, err)
		}
		ct.Sketch = parseSketch(sk)
		out[ct.Blob] = ct
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: contents: %w", err)
	}
	return out, nil
}

// Contents returns the text sketch of every blob that has one.
func (c *Catalog) Contents(ctx context.Context) (map[dedupe.ID]Content, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT blob_id, kind, tokens, sketch, modified, revision FROM blob_content`)
	if err != nil {
		return nil, fmt.Errorf("catalog: contents: %w", err)
	}
	defer rows.Close()
	out := map[dedupe.ID]Content{}
	for rows.Next() {
		var blob, sk, modified string
		var ct Content
		if err := rows.Scan(&blob, &ct.Kind, &ct.Tokens, &sk, &modified, &ct.Revision); err != nil {
			return nil, err
		}
		ct.Modified = parseTime(modified)
		ct.Blob, _ = dedupe.ParseID(blob)
		ct.Sketch = parseSketch(sk)
		out[ct.Blob] = ct
	}
	return out, rows.Err()
}

// parseSketch decodes a stored sketch, a JSON array of unsigned integers,
// without encoding/json's reflection (loading every sketch is most of the
// time of loading a large catalog); anything else goes to encoding/json.
func parseSketch(s string) []uint64 {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return slowSketch(s)
	}
	out := make([]uint64, 0, strings.Count(s, ",")+1)
	var x uint64
	digits := 0
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			d := uint64(c - '0')
			if digits > 0 && x == 0 || x > (math.MaxUint64-d)/10 {
				return slowSketch(s) // leading zero or overflow: let encoding/json say
			}
			x = x*10 + d
			digits++
		case c == ',' || c == ']':
			if c == ']' && i != len(s)-1 {
				return slowSketch(s)
			}
			if digits == 0 {
				if c == ']' && len(out) == 0 && i == len(s)-1 {
					return out // []
				}
				return slowSketch(s)
			}
			out = append(out, x)
			x, digits = 0, 0
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			if digits > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				return slowSketch(s) // "1 2"
			}
		default:
			return slowSketch(s)
		}
	}
	return out
}

func slowSketch(s string) []uint64 {
	var out []uint64
	_ = json.Unmarshal([]byte(s), &out)
	return out
}

// Pin is a person's correction of history.
type Pin struct {
	ID      int64           `json:"id"`
	Kind    string          `json:"kind"` // merge | split | relink
	Args    json.RawMessage `json:"args"`
	Actor   string          `json:"actor"`
	Created time.Time       `json:"created"`
}

// AddPin records a correction and audits it.
func (c *Catalog) AddPin(ctx context.Context, kind string, args any, actor string) (int64, error) {
	aj, err := json.Marshal(args)
	if err != nil {
		return 0, err
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("catalog: pin: %w", err)
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO pins (kind, args, actor, created) VALUES (?, ?, ?, ?) RETURNING id`, kind, string(aj), actor, c.stamp()).Scan(&id); err != nil {
		return 0, fmt.Errorf("catalog: pin: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO history_todo_pins (id) VALUES (?)`, id); err != nil {
		return 0, fmt.Errorf("catalog: pin: history queue: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("catalog: pin: %w", err)
	}
	return id, c.Audit(ctx, actor, "history."+kind, fmt.Sprint(id), string(aj))
}

// Pins lists corrections in the order they were made.
func (c *Catalog) Pins(ctx context.Context) ([]Pin, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, kind, args, actor, created FROM pins ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: pins: %w", err)
	}
	return scanPins(rows)
}

// scanPins reads pins (id, kind, args, actor, created) and closes rows.
func scanPins(rows *sql.Rows) ([]Pin, error) {
	defer rows.Close()
	var out []Pin
	for rows.Next() {
		var p Pin
		var args, created string
		if err := rows.Scan(&p.ID, &p.Kind, &args, &p.Actor, &created); err != nil {
			return nil, err
		}
		p.Args, p.Created = json.RawMessage(args), parseTime(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// digest identifies the stored rows of one document: the sum of a hash of
// each row, so that row order does not matter.
type digest [2]uint64

// rowHasher hashes rows with two independently seeded maphash hashes (fast,
// and 128 bits between them); digests are only compared within one call.
type rowHasher struct{ a, b maphash.Hash }

func newRowHasher() *rowHasher {
	h := &rowHasher{}
	h.a.SetSeed(maphash.MakeSeed())
	h.b.SetSeed(maphash.MakeSeed())
	return h
}

func (h *rowHasher) add(d *digest, parts ...string) {
	for i, m := range []*maphash.Hash{&h.a, &h.b} {
		m.Reset()
		for _, p := range parts {
			m.WriteString(p)
			m.WriteByte(0)
		}
		d[i] += m.Sum64()
	}
}

func confText(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// documentDigest is the digest of the rows ReplaceHistory would store for d.
func documentDigest(h *rowHasher, d Document) digest {
	var dg digest
	h.add(&dg, "d", d.Workspace, d.Folder, d.Name)
	for _, v := range d.Versions {
		h.add(&dg, "v", v.Key, v.Blob.String(), strconv.Itoa(v.Seq), formatTime(v.Time), v.Author)
		for _, l := range v.Parents {
			h.add(&dg, "p", v.Key, l.Parent, l.Reason, confText(l.Confidence))
		}
		for _, sid := range v.Sightings {
			h.add(&dg, "s", v.Key, strconv.FormatInt(sid, 10))
		}
	}
	return dg
}

// storedDigests reads the digest of every stored document (documents
// present only through orphaned rows included).
func storedDigests(ctx context.Context, tx *sql.Tx, h *rowHasher) (map[string]digest, error) {
	out := map[string]digest{}
	queries := []struct {
		q    string
		kind string
		cols int
	}{
		{`SELECT key, workspace, folder, name FROM documents`, "d", 4},
		{`SELECT document_key, key, blob_id, CAST(seq AS TEXT), time, author FROM versions`, "v", 6},
		{`SELECT document_key, version_key, parent_key, reason, confidence FROM version_parents`, "p", 5},
		{`SELECT document_key, version_key, CAST(sighting_id AS TEXT) FROM version_sightings`, "s", 3},
	}
	for _, q := range queries {
		if err := digestRows(ctx, tx, h, q.q, q.kind, q.cols, out); err != nil {
			return nil, fmt.Errorf("catalog: history: read stored %s rows: %w", q.kind, err)
		}
	}
	return out, nil
}

func digestRows(ctx context.Context, tx *sql.Tx, h *rowHasher, query, kind string, cols int, out map[string]digest) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	return digestScan(rows, h, kind, cols, out)
}

// digestScan adds the rows to the digests of their documents (the first
// column is the document key).
func digestScan(rows *sql.Rows, h *rowHasher, kind string, cols int, out map[string]digest) error {
	vals := make([]string, cols)
	var conf float64
	ptrs := make([]any, cols)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if kind == "p" {
		ptrs[4] = &conf
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if kind == "p" {
			vals[4] = confText(conf)
		}
		key := vals[0]
		d := out[vals[0]]
		vals[0] = kind // the document key is the map key; the row kind takes its place
		h.add(&d, vals...)
		out[key] = d
	}
	return rows.Err()
}
