package workspace

// Streaming readers of the stored history. Documents loads the whole
// history at once; these hand out one document at a time (with its
// sightings when asked), so a reader's memory is bounded by the largest
// document, not by the catalog.

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"database/sql/driver"
	"path"

	sqlite "modernc.org/sqlite"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
)

// DocFilter narrows a streaming read. The zero value reads every document.
type DocFilter struct {
	// Workspace, when set, reads only the documents of that workspace.
	Workspace string
	// Folders, when set with Workspace, reads only documents stored with
	// one of these folders (exact stored strings).
	Folders []string
}

// EachDocument calls fn for every document in key order, with its
// versions (by seq, then key), their parents (by parent key) and sighting
// ids (ascending): the same documents Documents returns, one at a time.
// The read is one snapshot of the catalog.
func (c *Catalog) EachDocument(ctx context.Context, fn func(Document) error) error {
	return c.eachDocument(ctx, DocFilter{}, false, func(d Document, _ []Sighting) error { return fn(d) })
}

// EachDocumentSightings is EachDocument with the sightings of each
// document (every id its versions name, in id order) read in the same
// pass.
func (c *Catalog) EachDocumentSightings(ctx context.Context, f DocFilter, fn func(Document, []Sighting) error) error {
	return c.eachDocument(ctx, f, true, fn)
}

// EachDocumentIn is EachDocument over the documents f selects.
func (c *Catalog) EachDocumentIn(ctx context.Context, f DocFilter, fn func(Document) error) error {
	return c.eachDocument(ctx, f, false, func(d Document, _ []Sighting) error { return fn(d) })
}

// docCursor is one ordered query of a merge: rows come in document key
// order, and head holds the next row's key ("" at the end).
type docCursor struct {
	rows *sql.Rows
	head string
	vals []any
	err  error
}

func (k *docCursor) next() {
	if k.rows.Next() {
		k.err = k.rows.Scan(k.vals...)
		if k.err == nil {
			k.head = *k.vals[0].(*string)
		}
		return
	}
	k.err = k.rows.Err()
	k.head = ""
}

// skipTo advances past rows of documents before key (rows of documents no
// longer stored: Documents drops them too).
func (k *docCursor) skipTo(key string) {
	for k.err == nil && k.head != "" && k.head < key {
		k.next()
	}
}

// docWhere builds the filter of the documents table d.
func docWhere(f DocFilter) (string, []any) {
	if f.Workspace == "" {
		return "", nil
	}
	q := ` WHERE d.workspace = ?`
	args := []any{f.Workspace}
	if len(f.Folders) > 0 {
		q += ` AND d.folder IN (?` + strings.Repeat(`, ?`, len(f.Folders)-1) + `)`
		for _, fo := range f.Folders {
			args = append(args, fo)
		}
	}
	return q, args
}

// docQueries are the ordered queries the merge reads, each restricted to
// the documents of the filter (a join with documents only when filtered:
// unfiltered, each reads its table through its primary key or index).
func docQueries(f DocFilter, withSightings bool) (docs, vers, parents, sights string, args []any) {
	where, args := docWhere(f)
	docs = `SELECT d.key, d.workspace, d.folder, d.name FROM documents d` + where + ` ORDER BY d.key`
	from := func(table, alias, extra string) string {
		if where == "" {
			return table + ` ` + alias + extra
		}
		return table + ` ` + alias + ` JOIN documents d ON d.key = ` + alias + `.document_key` + extra + where
	}
	vers = `SELECT v.document_key, v.key, v.blob_id, v.seq, v.time, v.author FROM ` + from("versions", "v", "") + ` ORDER BY v.document_key`
	parents = `SELECT p.document_key, p.version_key, p.parent_key, p.reason, p.confidence FROM ` + from("version_parents", "p", "") + ` ORDER BY p.document_key`
	if withSightings {
		sights = `SELECT vs.document_key, vs.version_key, ` + sightingCols + ` FROM ` +
			from("version_sightings", "vs", ` JOIN sightings ON sightings.id = vs.sighting_id`) + ` ORDER BY vs.document_key`
	} else {
		sights = `SELECT vs.document_key, vs.version_key, vs.sighting_id FROM ` + from("version_sightings", "vs", "") + ` ORDER BY vs.document_key`
	}
	return docs, vers, parents, sights, args
}

// onDocument, when set (by tests), hears each document a streaming reader
// hands out, with the number of sightings it carries.
var onDocument func(d *Document, sightings int)

func (c *Catalog) eachDocument(ctx context.Context, f DocFilter, withSightings bool, fn func(Document, []Sighting) error) (err error) {
	// One read snapshot: every cursor reads the same catalog while a sync
	// may be writing.
	conns, done, err := c.readSnapshot(ctx, 4)
	if err != nil {
		return fmt.Errorf("catalog: documents: %w", err)
	}
	defer done()

	qd, qv, qp, qs, args := docQueries(f, withSightings)
	open := func(q string, vals ...any) (*docCursor, error) {
		rows, err := conns[0].QueryContext(ctx, q, args...)
		conns = conns[1:]
		if err != nil {
			return nil, fmt.Errorf("catalog: documents: %w", err)
		}
		k := &docCursor{rows: rows, vals: vals}
		k.next()
		return k, k.err
	}
	var (
		d                 Document
		vdk, blob, vt     string
		v                 Version
		pdk, pvk          string
		l                 Link
		sv                string
		sid               int64
		s                 Sighting
		sblob, st, slin   string
		sseen, sgone, sdk string
	)
	var cursors []*docCursor
	defer func() {
		for _, k := range cursors {
			k.rows.Close()
		}
	}()
	docs, err := open(qd, &d.Key, &d.Workspace, &d.Folder, &d.Name)
	if err != nil {
		return err
	}
	cursors = append(cursors, docs)
	vers, err := open(qv, &vdk, &v.Key, &blob, &v.Seq, &vt, &v.Author)
	if err != nil {
		return err
	}
	cursors = append(cursors, vers)
	pars, err := open(qp, &pdk, &pvk, &l.Parent, &l.Reason, &l.Confidence)
	if err != nil {
		return err
	}
	cursors = append(cursors, pars)
	var sights *docCursor
	if withSightings {
		sights, err = open(qs, &sdk, &sv, &s.ID, &s.Source, &s.Kind, &s.Ref, &s.Fingerprint, &sblob, &s.Name, &s.Path, &s.Size, &st,
			&s.Author, &s.Workspace, &s.Folder, &slin, &s.RunID, &sseen, &sgone)
	} else {
		sights, err = open(qs, &sdk, &sv, &sid)
	}
	if err != nil {
		return err
	}
	cursors = append(cursors, sights)

	for docs.head != "" {
		if err := ctx.Err(); err != nil {
			return err
		}
		doc := d
		doc.Versions = nil
		key := doc.Key
		for _, k := range cursors[1:] {
			if k.skipTo(key); k.err != nil {
				return fmt.Errorf("catalog: documents: %w", k.err)
			}
		}
		for vers.head == key {
			nv := v
			nv.Blob, _ = dedupe.ParseID(blob)
			nv.Time = parseTime(vt)
			doc.Versions = append(doc.Versions, nv)
			if vers.next(); vers.err != nil {
				return fmt.Errorf("catalog: versions: %w", vers.err)
			}
		}
		slices.SortFunc(doc.Versions, func(a, b Version) int { return cmp.Or(cmp.Compare(a.Seq, b.Seq), strings.Compare(a.Key, b.Key)) })
		at := func(key string) *Version {
			for i := range doc.Versions {
				if doc.Versions[i].Key == key {
					return &doc.Versions[i]
				}
			}
			return nil
		}
		for pars.head == key {
			if ver := at(pvk); ver != nil {
				ver.Parents = append(ver.Parents, l)
			}
			if pars.next(); pars.err != nil {
				return fmt.Errorf("catalog: version parents: %w", pars.err)
			}
		}
		var found []Sighting
		for sights.head == key {
			ver := at(sv)
			if withSightings {
				s.Blob, _ = dedupe.ParseID(sblob)
				s.Time, s.Seen, s.Gone = parseTime(st), parseTime(sseen), parseTime(sgone)
				s.Lineage = connectors.Lineage{}
				if err := json.Unmarshal([]byte(slin), &s.Lineage); err != nil {
					return fmt.Errorf("catalog: sighting %d lineage: %w", s.ID, err)
				}
				sid = s.ID
				if ver != nil {
					found = append(found, s)
				}
			}
			if ver != nil {
				ver.Sightings = append(ver.Sightings, sid)
			}
			if sights.next(); sights.err != nil {
				return fmt.Errorf("catalog: version sightings: %w", sights.err)
			}
		}
		for i := range doc.Versions {
			slices.SortFunc(doc.Versions[i].Parents, func(a, b Link) int { return strings.Compare(a.Parent, b.Parent) })
			slices.Sort(doc.Versions[i].Sightings)
		}
		slices.SortFunc(found, func(a, b Sighting) int { return cmp.Compare(a.ID, b.ID) })
		if onDocument != nil {
			onDocument(&doc, len(found))
		}
		if err := fn(doc, found); err != nil {
			return err
		}
		if docs.next(); docs.err != nil {
			return fmt.Errorf("catalog: documents: %w", docs.err)
		}
	}
	return nil
}

// DocumentByKey reads one document (with its sightings, in id order);
// ok is false when there is none.
func (c *Catalog) DocumentByKey(ctx context.Context, key string) (doc Document, sightings []Sighting, ok bool, err error) {
	err = c.eachDocumentKeys(ctx, c.db, []string{key}, func(d Document, s []Sighting) error {
		doc, sightings, ok = d, s, true
		return nil
	})
	return doc, sightings, ok, err
}

// eachDocumentKeys reads the documents keys (in that order; a key with
// no document is skipped) through the per-document indexes (primary keys
// and version_sightings_doc), every table a statement for all of them:
// four statements a document were a seventh of a plan's time on SQLite
// and four round trips a document on PostgreSQL.
func (c *Catalog) eachDocumentKeys(ctx context.Context, q querier, keys []string, fn func(Document, []Sighting) error) error {
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	in := `(` + rowsOf("?", len(keys)) + `)`
	docs := make(map[string]*Document, len(keys))
	each := func(what, query string, scan func(*sql.Rows) error) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("catalog: %s of document %s: %w", what, keys[0], err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("catalog: %s of document %s: %w", what, keys[0], err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("catalog: %s of document %s: %w", what, keys[0], err)
		}
		return nil
	}
	err := each("documents", `SELECT key, workspace, folder, name FROM documents WHERE key IN `+in, func(rows *sql.Rows) error {
		var d Document
		if err := rows.Scan(&d.Key, &d.Workspace, &d.Folder, &d.Name); err != nil {
			return err
		}
		docs[d.Key] = &d
		return nil
	})
	if err != nil {
		return err
	}
	err = each("versions", `SELECT document_key, key, blob_id, seq, time, author FROM versions WHERE document_key IN `+in, func(rows *sql.Rows) error {
		var dk string
		var v Version
		var blob, t string
		if err := rows.Scan(&dk, &v.Key, &blob, &v.Seq, &t, &v.Author); err != nil {
			return err
		}
		v.Blob, _ = dedupe.ParseID(blob)
		v.Time = parseTime(t)
		if d := docs[dk]; d != nil {
			d.Versions = append(d.Versions, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range docs {
		slices.SortFunc(d.Versions, func(a, b Version) int { return cmp.Or(cmp.Compare(a.Seq, b.Seq), strings.Compare(a.Key, b.Key)) })
	}
	at := func(doc, key string) *Version {
		d := docs[doc]
		if d == nil {
			return nil
		}
		for i := range d.Versions {
			if d.Versions[i].Key == key {
				return &d.Versions[i]
			}
		}
		return nil
	}
	err = each("parents", `SELECT document_key, version_key, parent_key, reason, confidence FROM version_parents WHERE document_key IN `+in+` ORDER BY document_key, version_key, parent_key`, func(rows *sql.Rows) error {
		var dk, vk string
		var l Link
		if err := rows.Scan(&dk, &vk, &l.Parent, &l.Reason, &l.Confidence); err != nil {
			return err
		}
		if v := at(dk, vk); v != nil {
			v.Parents = append(v.Parents, l)
		}
		return nil
	})
	if err != nil {
		return err
	}
	found := map[string][]Sighting{}
	err = each("sightings", `SELECT vs.document_key, vs.version_key, `+sightingCols+` FROM version_sightings vs JOIN sightings ON sightings.id = vs.sighting_id WHERE vs.document_key IN `+in, func(rows *sql.Rows) error {
		var dk, vk string
		s, err := scanSightingAfter(rows, &dk, &vk)
		if err != nil {
			return err
		}
		if v := at(dk, vk); v != nil {
			v.Sightings = append(v.Sightings, s.ID)
			found[dk] = append(found[dk], s)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		d := docs[k]
		if d == nil {
			continue
		}
		delete(docs, k) // a key named twice is one document, handed out once
		for i := range d.Versions {
			slices.Sort(d.Versions[i].Sightings)
		}
		ss := found[k]
		slices.SortFunc(ss, func(a, b Sighting) int { return cmp.Compare(a.ID, b.ID) })
		if onDocument != nil {
			onDocument(d, len(ss))
		}
		if err := fn(*d, ss); err != nil {
			return err
		}
	}
	return nil
}

// scanSightingAfter scans the columns of prefix followed by sightingCols.
func scanSightingAfter(rows *sql.Rows, prefix ...any) (Sighting, error) {
	var s Sighting
	var blob, t, lin, seen, gone string
	if err := rows.Scan(append(prefix, &s.ID, &s.Source, &s.Kind, &s.Ref, &s.Fingerprint, &blob, &s.Name, &s.Path, &s.Size, &t, &s.Author, &s.Workspace, &s.Folder, &lin, &s.RunID, &seen, &gone)...); err != nil {
		return s, err
	}
	s.Blob, _ = dedupe.ParseID(blob)
	s.Time, s.Seen, s.Gone = parseTime(t), parseTime(seen), parseTime(gone)
	if err := json.Unmarshal([]byte(lin), &s.Lineage); err != nil {
		return s, fmt.Errorf("catalog: sighting %d lineage: %w", s.ID, err)
	}
	return s, nil
}

func init() {
	// syncd_join_path(folder, name) is report.joinPath: name under the
	// cleaned folder, or name alone at the top. EachDocumentByVersions
	// orders by it, as the report sorts documents.
	err := sqlite.RegisterDeterministicScalarFunction("syncd_join_path", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		folder, _ := args[0].(string)
		name, _ := args[1].(string)
		if folder == "" {
			return name, nil
		}
		return path.Join(folder, name), nil
	})
	if err != nil {
		panic(err)
	}
}

// EachDocumentByVersions calls fn for every document, most versions
// first, then most copies (sightings), workspace, path (folder and name
// joined as path.Join does) and key: the order of the report's documents.
// SQLite sorts the keys (spilling to disk for a large store); each
// document is then read through its indexes.
func (c *Catalog) EachDocumentByVersions(ctx context.Context, fn func(Document, []Sighting) error) error {
	// One read snapshot, so that every document comes from the same
	// catalog, and the per-chunk queries prepared once on it: parsing
	// them again for every document was a seventh of a report's time.
	conns, done, err := c.readSnapshot(ctx, 2)
	if err != nil {
		return fmt.Errorf("catalog: documents: %w", err)
	}
	defer done()
	conn := conns[0]
	q := &connStmts{conn: conns[1], st: map[string]*sql.Stmt{}}
	defer q.Close()
	rows, err := conn.QueryContext(ctx, `SELECT d.key FROM documents d
		ORDER BY (SELECT COUNT(*) FROM versions v WHERE v.document_key = d.key) DESC,
		(SELECT COUNT(*) FROM version_sightings vs WHERE vs.document_key = d.key) DESC,
		d.workspace, syncd_join_path(d.folder, d.name), d.key`)
	if err != nil {
		return fmt.Errorf("catalog: documents: %w", err)
	}
	defer rows.Close()
	// A chunk of documents at a time, each table read for all of them
	// with one statement.
	keys := make([]string, 0, inChunk)
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return fmt.Errorf("catalog: documents: %w", err)
		}
		if keys = append(keys, key); len(keys) == inChunk {
			if err := c.eachDocumentKeys(ctx, q, keys, fn); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: documents: %w", err)
	}
	return c.eachDocumentKeys(ctx, q, keys, fn)
}

// SightingsOfBlob calls fn for every sighting of the content, in id order.
func (c *Catalog) SightingsOfBlob(ctx context.Context, blob dedupe.ID, fn func(Sighting) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT `+sightingCols+` FROM sightings WHERE blob_id = ? ORDER BY id`, blob.String())
	if err != nil {
		return fmt.Errorf("catalog: sightings of %s: %w", blob.Short(), err)
	}
	return eachSighting(rows, fn)
}

// querier is a *sql.DB or a connStmts.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// connStmts runs queries on one connection, each prepared once.
type connStmts struct {
	conn *sql.Conn
	st   map[string]*sql.Stmt
}

func (c *connStmts) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	st := c.st[q]
	if st == nil {
		var err error
		if st, err = prepare(ctx, c.conn, q); err != nil {
			return nil, err
		}
		c.st[q] = st
	}
	return st, nil
}

func (c *connStmts) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *connStmts) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := c.prepare(ctx, q)
	if err != nil {
		return c.conn.QueryRowContext(ctx, q, args...) // reports the same error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// Close releases the statements.
func (c *connStmts) Close() {
	for _, st := range c.st {
		st.Close()
	}
}
