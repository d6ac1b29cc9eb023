package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
)

// Sighting is one place a blob was seen.
type Sighting struct {
	ID          int64
	Source      string
	Kind        string
	Ref         string
	Fingerprint string
	Blob        dedupe.ID
	Name        string
	Path        string
	Size        int64
	Time        time.Time
	Author      string
	Workspace   string
	Folder      string
	Lineage     connectors.Lineage
	RunID       int64
	Seen        time.Time
	// Gone: when syncd saw the copy no longer at its source (zero while
	// it is there).
	Gone time.Time
}

// Blob is a stored content and the names it is known by.
type Blob struct {
	Sums   dedupe.Sums
	Hashes map[string]string // extra kinds: md5, sha1, imap-part
	// Sketched: the blob's derived rows (its text sketch, if it has text)
	// come with this batch or are already stored. A blob row written
	// without them is finished later by RepairSketches.
	Sketched bool
	// Fresh: the content was written to the blob store and hashed in this
	// run, so a blob marked damaged is whole again.
	Fresh bool
}

// Content is a blob's text sketch.
type Content struct {
	Blob   dedupe.ID
	Kind   string
	Tokens int
	Sketch []uint64
	// Text is the start of the extracted text (TextIndexBytes at most),
	// kept for search; "" keeps none.
	Text string
	// Modified and Revision are the document's own record of its last
	// save (history.Content); zero when unknown.
	Modified time.Time
	Revision int
}

// RunItem is what a run did with one item it did not already know.
type RunItem struct {
	Source string
	Ref    string
	Name   string
	Size   int64
	Action string // new | duplicate | skip | problem
	Reason string
	Blob   dedupe.ID
	Detail string
}

// Batch collects writes that commit together: the sightings of a stretch
// of a scan and, optionally, the source cursor that covers them.
type Batch struct {
	RunID     int64
	Blobs     []Blob
	Contents  []Content
	Sightings []Sighting
	Items     []RunItem
	Cursors   map[string]connectors.Cursor
	// Retries go on (or stay on, one attempt more) the retry list;
	// Resolved come off it. A committed sighting takes its own (source,
	// ref) off the list too.
	Retries  []Retry
	Resolved []RetryKey
	// Marks record, in order, copies seen gone from their source or back
	// again. They apply before the batch's new sightings.
	Marks []Mark
}

// Mark records that copies left their source (Gone) or are there again.
// Under: every sighting whose ref is Ref or starts with Ref + "/"; else
// the ref exactly, and with Fingerprint set only that sighting.
type Mark struct {
	Source      string
	Ref         string
	Fingerprint string
	Under       bool
	Gone        bool
}

// Empty reports whether b holds nothing.
func (b *Batch) Empty() bool {
	return len(b.Blobs)+len(b.Contents)+len(b.Sightings)+len(b.Items)+len(b.Cursors)+len(b.Retries)+len(b.Resolved)+len(b.Marks) == 0
}

// Commit writes b in one transaction. Sightings already present (same
// source, ref and fingerprint) are left alone, so a replayed batch never
// duplicates anything.
func (c *Catalog) Commit(ctx context.Context, b *Batch) (added int, err error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("catalog: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	now := c.stamp()
	tc := &txStmts{tx: tx, st: map[string]*sql.Stmt{}}
	for _, bl := range b.Blobs {
		if err = putBlob(ctx, tc, bl, now); err != nil {
			return 0, err
		}
	}
	for _, ct := range b.Contents {
		if err = insertContent(ctx, tc, ct); err != nil {
			return 0, err
		}
		if err = insertText(ctx, tc, ct.Blob, ct.Text); err != nil {
			return 0, err
		}
	}
	for _, m := range b.Marks {
		if err = applyMark(ctx, tc, m, now); err != nil {
			return 0, err
		}
	}
	for _, s := range b.Sightings {
		n, e := insertSighting(ctx, tc, s, now)
		if e != nil {
			return 0, e
		}
		added += n
	}
	for _, it := range b.Items {
		blob := ""
		if !it.Blob.IsZero() {
			blob = it.Blob.String()
		}
		if _, err = tc.ExecContext(ctx, `INSERT INTO run_items (run_id, source, ref, name, size, action, reason, blob_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.RunID, it.Source, it.Ref, it.Name, it.Size, it.Action, it.Reason, blob, it.Detail); err != nil {
			return 0, fmt.Errorf("catalog: run item %s: %w", it.Ref, err)
		}
	}
	if err = commitRetries(ctx, tc, b); err != nil {
		return 0, err
	}
	for src, cur := range b.Cursors {
		if _, err = tc.ExecContext(ctx, `INSERT INTO cursors (source, cursor, updated) VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated`,
			src, string(cur), now); err != nil {
			return 0, fmt.Errorf("catalog: cursor %s: %w", src, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("catalog: commit: %w", err)
	}
	return added, nil
}

// insertContent stores a blob's text sketch (once) and queues it for the
// history index.
func insertContent(ctx context.Context, tc *txStmts, ct Content) error {
	blob := ct.Blob
	sk, _ := json.Marshal(ct.Sketch)
	res, err := tc.ExecContext(ctx, `INSERT INTO blob_content (blob_id, kind, tokens, sketch, modified, revision) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (blob_id) DO NOTHING`,
		blob.String(), ct.Kind, ct.Tokens, string(sk), formatTime(ct.Modified), ct.Revision)
	if err != nil {
		return fmt.Errorf("catalog: content %s: %w", blob.Short(), err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if _, err := tc.ExecContext(ctx, `INSERT INTO history_todo_contents (blob_id) VALUES (?) ON CONFLICT DO NOTHING`, blob.String()); err != nil {
			return fmt.Errorf("catalog: content %s: history queue: %w", blob.Short(), err)
		}
	}
	return nil
}

// TextIndexBytes is how much of a content's extracted text is kept for
// search (Content.Text).
const TextIndexBytes = 64 << 10

// insertText keeps a content's text for search, once.
func insertText(ctx context.Context, tc interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, blob dedupe.ID, text string) error {
	if text == "" {
		return nil
	}
	if len(text) > TextIndexBytes {
		text = strings.ToValidUTF8(text[:TextIndexBytes], "")
	}
	if _, err := tc.ExecContext(ctx, `INSERT INTO blob_texts (blob_id, text) VALUES (?, ?) ON CONFLICT (blob_id) DO NOTHING`, blob.String(), text); err != nil {
		return fmt.Errorf("catalog: text of %s: %w", blob.Short(), err)
	}
	return nil
}

func putBlob(ctx context.Context, tx *txStmts, bl Blob, now string) error {
	id := bl.Sums.ID.String()
	// An existing row is only written when this batch completes it: its
	// sketch was still to be computed, or it was damaged and the content
	// has just been stored whole again.
	if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (id, size, quickxor, refs, created, sketched) VALUES (?, ?, ?, 0, ?, ?)
		ON CONFLICT (id) DO UPDATE SET sketched = CASE WHEN excluded.sketched = 1 THEN 1 ELSE blobs.sketched END,
		damaged = CASE WHEN ? = 1 THEN 0 ELSE blobs.damaged END
		WHERE (excluded.sketched = 1 AND blobs.sketched = 0) OR (? = 1 AND blobs.damaged = 1)`,
		id, bl.Sums.Size, bl.Sums.QuickXor, now, boolInt(bl.Sketched), boolInt(bl.Fresh), boolInt(bl.Fresh)); err != nil {
		return fmt.Errorf("catalog: blob %s: %w", bl.Sums.ID.Short(), err)
	}
	for kind, v := range bl.Hashes {
		if v == "" || kind == connectors.HashSHA256 || kind == connectors.HashQuickXor {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO blob_hashes (kind, value, blob_id) VALUES (?, ?, ?) ON CONFLICT (kind, value) DO NOTHING`, kind, v, id); err != nil {
			return fmt.Errorf("catalog: blob %s hash %s: %w", bl.Sums.ID.Short(), kind, err)
		}
	}
	return nil
}

func insertSighting(ctx context.Context, tx *txStmts, s Sighting, now string) (int, error) {
	lin, err := json.Marshal(s.Lineage)
	if err != nil {
		return 0, err
	}
	// RETURNING: no row when the sighting is known (the conflict).
	var id int64
	err = tx.queryRow(ctx, `INSERT INTO sightings (source, kind, ref, fingerprint, blob_id, name, path, size, time, author, workspace, folder, lineage, run_id, seen)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, ref, fingerprint) DO NOTHING RETURNING id`,
		s.Source, s.Kind, s.Ref, s.Fingerprint, s.Blob.String(), s.Name, s.Path, s.Size, formatTime(s.Time), s.Author, s.Workspace, s.Folder, string(lin), s.RunID, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("catalog: sighting %s %s: %w", s.Source, s.Ref, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET refs = refs + 1 WHERE id = ?`, s.Blob.String()); err != nil {
		return 0, fmt.Errorf("catalog: blob refs %s: %w", s.Blob.Short(), err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO history_todo_sightings (id) VALUES (?)`, id); err != nil {
		return 0, fmt.Errorf("catalog: sighting %s %s: history queue: %w", s.Source, s.Ref, err)
	}
	return 1, nil
}

// applyMark sets or clears the gone time of the sightings m names. A
// sighting already marked gone keeps the time it was first seen gone.
func applyMark(ctx context.Context, tc *txStmts, m Mark, now string) error {
	set, where := `gone = ?`, ` AND gone = ''`
	args := []any{now}
	if !m.Gone {
		set, where, args = `gone = ''`, ` AND gone <> ''`, nil
	}
	args = append(args, m.Source)
	q := `UPDATE sightings SET ` + set + ` WHERE source = ?`
	switch {
	case m.Under:
		// ref = R, or R/ <= ref < R0 ('0' follows '/'): the index on
		// (source, ref, fingerprint) serves the range.
		q += ` AND (ref = ? OR (ref >= ? AND ref < ?))`
		args = append(args, m.Ref, m.Ref+"/", m.Ref+"0")
	case m.Fingerprint != "":
		q += ` AND ref = ? AND fingerprint = ?`
		args = append(args, m.Ref, m.Fingerprint)
	default:
		q += ` AND ref = ?`
		args = append(args, m.Ref)
	}
	if _, err := tc.ExecContext(ctx, q+where, args...); err != nil {
		return fmt.Errorf("catalog: mark %s %s: %w", m.Source, m.Ref, err)
	}
	return nil
}

// txStmts prepares each statement once per transaction: a batch runs the
// same few inserts thousands of times, and SQLite would otherwise parse
// each one again.
type txStmts struct {
	tx *sql.Tx
	st map[string]*sql.Stmt
}

func (t *txStmts) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// KnownSighting reports whether (source, ref, fingerprint) is already
// recorded with content that is whole (a sighting of a damaged blob is
// not known: the item is fetched again), and whether that sighting is
// marked gone from its source.
func (c *Catalog) KnownSighting(ctx context.Context, source, ref, fingerprint string) (known, gone bool, err error) {
	var g string
	err = c.queryRow(ctx, `SELECT s.gone FROM sightings s JOIN blobs b ON b.id = s.blob_id WHERE s.source = ? AND s.ref = ? AND s.fingerprint = ? AND b.damaged = 0`, source, ref, fingerprint).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("catalog: lookup %s %s: %w", source, ref, err)
	}
	return true, g != "", nil
}

// BlobByHash finds a stored blob by a remote hash (sha256, quickxor, or
// any kind recorded in blob_hashes). Blobs marked damaged are not found.
func (c *Catalog) BlobByHash(ctx context.Context, kind, value string) (dedupe.Sums, bool, error) {
	var q string
	switch kind {
	case connectors.HashSHA256:
		q = `SELECT id, size, quickxor FROM blobs WHERE id = ? AND damaged = 0`
	case connectors.HashQuickXor:
		q = `SELECT id, size, quickxor FROM blobs WHERE quickxor = ? AND damaged = 0 ORDER BY id LIMIT 1`
	default:
		q = `SELECT b.id, b.size, b.quickxor FROM blob_hashes h JOIN blobs b ON b.id = h.blob_id WHERE h.kind = ? AND h.value = ? AND b.damaged = 0`
	}
	args := []any{value}
	if kind != connectors.HashSHA256 && kind != connectors.HashQuickXor {
		args = []any{kind, value}
	}
	var id, qx string
	var s dedupe.Sums
	err := c.queryRow(ctx, q, args...).Scan(&id, &s.Size, &qx)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("catalog: blob by %s: %w", kind, err)
	}
	s.ID, err = dedupe.ParseID(id)
	s.QuickXor = qx
	return s, err == nil, err
}

// Cursor returns a source's committed cursor (nil if none).
func (c *Catalog) Cursor(ctx context.Context, source string) (connectors.Cursor, error) {
	var s string
	err := c.db.QueryRowContext(ctx, `SELECT cursor FROM cursors WHERE source = ?`, source).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: cursor %s: %w", source, err)
	}
	return connectors.Cursor(s), nil
}

// ResetCursor forgets a source's cursor (the next scan starts over).
func (c *Catalog) ResetCursor(ctx context.Context, source string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM cursors WHERE source = ?`, source)
	return err
}

// PartKey is the cursor key, and the unit name, of one part of a
// partitioned source.
func PartKey(source, part string) string { return source + "/" + part }

// PartCursors lists the parts of source that have a cursor of their own
// (under PartKey), sorted.
func (c *Catalog) PartCursors(ctx context.Context, source string) ([]string, error) {
	// "/" + 1 is "0": every key that starts with source + "/", by bytes.
	rows, err := c.db.QueryContext(ctx, `SELECT source FROM cursors WHERE source > ? AND source < ? ORDER BY source`, PartKey(source, ""), source+"0")
	if err != nil {
		return nil, fmt.Errorf("catalog: part cursors of %s: %w", source, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("catalog: part cursors of %s: %w", source, err)
		}
		out = append(out, strings.TrimPrefix(k, PartKey(source, "")))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: part cursors of %s: %w", source, err)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// commitRetries writes the batch's retry-list changes: new failures (or
// one attempt more), then what came off the list, including every item
// whose sighting the batch commits, so an item stored after failing is
// never retried again.
func commitRetries(ctx context.Context, tc *txStmts, b *Batch) error {
	for _, r := range b.Retries {
		if err := putRetry(ctx, tc, b.RunID, r); err != nil {
			return err
		}
	}
	var pending int
	if err := tc.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM retries LIMIT 1) AS any_retry`).Scan(&pending); err != nil {
		return fmt.Errorf("catalog: retries: %w", err)
	}
	if pending == 0 {
		return nil // the usual case: nothing to take off
	}
	for _, s := range b.Sightings {
		if err := dropRetry(ctx, tc, s.Source, s.Ref); err != nil {
			return err
		}
	}
	for _, k := range b.Resolved {
		if err := dropRetry(ctx, tc, k.Source, k.Ref); err != nil {
			return err
		}
	}
	return nil
}
