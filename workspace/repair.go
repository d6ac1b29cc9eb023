package workspace

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/syncd/syncd/dedupe"
)

// Unsketched is a stored blob whose derived rows are still to be computed.
type Unsketched struct {
	ID   dedupe.ID
	Size int64
	Name string // a name it was seen under (the sketcher reads the extension)
}

// Unsketched lists up to limit blobs whose text sketch was never computed
// (their row was committed by a run that stopped before it sketched them),
// in id order. Damaged blobs wait for their content to be fetched again.
func (c *Catalog) Unsketched(ctx context.Context, limit int) ([]Unsketched, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT b.id, b.size,
		COALESCE((SELECT s.name FROM sightings s WHERE s.blob_id = b.id ORDER BY s.source, s.ref LIMIT 1), '')
		FROM blobs b WHERE b.sketched = 0 AND b.damaged = 0 ORDER BY b.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: blobs to sketch: %w", err)
	}
	return scanUnsketched(rows)
}

// scanUnsketched reads rows of (blob id, size, name).
func scanUnsketched(rows *sql.Rows) ([]Unsketched, error) {
	defer rows.Close()
	var out []Unsketched
	for rows.Next() {
		var u Unsketched
		var id string
		if err := rows.Scan(&id, &u.Size, &u.Name); err != nil {
			return nil, err
		}
		var err error
		if u.ID, err = dedupe.ParseID(id); err != nil {
			return nil, fmt.Errorf("catalog: blob row %q: %w", id, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SaveSketch records a blob's derived rows: its sketch when it has text
// (ct may be nil), and that it has been sketched.
func (c *Catalog) SaveSketch(ctx context.Context, id dedupe.ID, ct *Content) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: sketch %s: %w", id.Short(), err)
	}
	defer tx.Rollback()
	if ct != nil {
		tc := &txStmts{tx: tx, st: map[string]*sql.Stmt{}}
		c := *ct
		c.Blob = id
		if err := insertContent(ctx, tc, c); err != nil {
			return err
		}
		if err := insertText(ctx, tc, id, ct.Text); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET sketched = 1 WHERE id = ?`, id.String()); err != nil {
		return fmt.Errorf("catalog: sketch %s: %w", id.Short(), err)
	}
	return tx.Commit()
}

// MarkDamaged records that a blob's stored bytes are missing or wrong, and
// puts every sighting of it on its source's retry list (reason "damaged"),
// so the next sync fetches the content again from a source that still has
// it. It returns how many sightings were queued.
func (c *Catalog) MarkDamaged(ctx context.Context, id dedupe.ID, detail string) (int64, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("catalog: damaged %s: %w", id.Short(), err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET damaged = 1 WHERE id = ?`, id.String()); err != nil {
		return 0, fmt.Errorf("catalog: damaged %s: %w", id.Short(), err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO retries (source, ref, name, reason, detail, attempts, first_run, last_run)
		SELECT source, ref, MIN(name), 'damaged', ?, 0, 0, 0 FROM sightings WHERE blob_id = ? GROUP BY source, ref
		ON CONFLICT (source, ref) DO UPDATE SET reason = excluded.reason, detail = excluded.detail`, detail, id.String())
	if err != nil {
		return 0, fmt.Errorf("catalog: damaged %s: %w", id.Short(), err)
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

// Damaged lists the blobs marked damaged, in id order.
func (c *Catalog) Damaged(ctx context.Context) ([]dedupe.ID, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id FROM blobs WHERE damaged = 1 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: damaged blobs: %w", err)
	}
	defer rows.Close()
	var out []dedupe.ID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		id, err := dedupe.ParseID(s)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Untexted lists up to limit contents (blob id order, after after) that
// have a text sketch but no kept text: stored before migration 9 kept it.
// Name and size are a sighting's, to read the blob by.
func (c *Catalog) Untexted(ctx context.Context, after string, limit int) ([]Unsketched, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT c.blob_id, b.size,
		COALESCE((SELECT s.name FROM sightings s WHERE s.blob_id = c.blob_id ORDER BY s.source, s.ref LIMIT 1), '')
		FROM blob_content c JOIN blobs b ON b.id = c.blob_id
		WHERE c.blob_id > ? AND b.damaged = 0 AND NOT EXISTS (SELECT 1 FROM blob_texts t WHERE t.blob_id = c.blob_id)
		ORDER BY c.blob_id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: contents without text: %w", err)
	}
	return scanUnsketched(rows)
}

// SaveText keeps a content's extracted text for search (once).
func (c *Catalog) SaveText(ctx context.Context, id dedupe.ID, text string) error {
	return insertText(ctx, c.db, id, text)
}
