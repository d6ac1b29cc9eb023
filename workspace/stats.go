package workspace

import (
	"context"
	"fmt"

	"github.com/syncd/syncd/dedupe"
)

// Stats are catalog-wide totals.
type Stats struct {
	Sightings     int64 `json:"sightings"`
	SightingBytes int64 `json:"sighting_bytes"`
	Blobs         int64 `json:"blobs"`
	BlobBytes     int64 `json:"blob_bytes"`
	Documents     int64 `json:"documents"`
	Versions      int64 `json:"versions"`
	Workspaces    int64 `json:"workspaces"`
}

// Stats computes totals.
func (c *Catalog) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	qs := []struct {
		q    string
		dest []any
	}{
		{`SELECT COUNT(*), COALESCE(SUM(size), 0) FROM sightings`, []any{&s.Sightings, &s.SightingBytes}},
		{`SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs`, []any{&s.Blobs, &s.BlobBytes}},
		{`SELECT COUNT(*) FROM documents`, []any{&s.Documents}},
		{`SELECT COUNT(*) FROM versions`, []any{&s.Versions}},
		{`SELECT COUNT(DISTINCT workspace) FROM documents`, []any{&s.Workspaces}},
	}
	for _, q := range qs {
		if err := c.db.QueryRowContext(ctx, q.q).Scan(q.dest...); err != nil {
			return s, fmt.Errorf("catalog: stats: %w", err)
		}
	}
	return s, nil
}

// BlobRecord is a blob row as the catalog knows it.
type BlobRecord struct {
	Sums    dedupe.Sums
	Refs    int64
	Damaged bool // found missing or wrong by verify; fetched again by the next sync
}

// EachBlob calls fn for every blob row, in id order.
func (c *Catalog) EachBlob(ctx context.Context, fn func(BlobRecord) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT id, size, quickxor, refs, damaged FROM blobs ORDER BY id`)
	if err != nil {
		return fmt.Errorf("catalog: blobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var b BlobRecord
		if err := rows.Scan(&id, &b.Sums.Size, &b.Sums.QuickXor, &b.Refs, &b.Damaged); err != nil {
			return err
		}
		if b.Sums.ID, err = dedupe.ParseID(id); err != nil {
			return fmt.Errorf("catalog: blob row %q: %w", id, err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Check verifies the catalog's own references: every sighting, version and
// content row names a blob row, and each blob's ref count equals its
// sightings. It returns one line per problem.
func (c *Catalog) Check(ctx context.Context) ([]string, error) {
	checks := []struct{ what, q string }{
		{"sighting without blob", `SELECT 'sighting ' || s.id || ' (' || s.source || ' ' || s.ref || ') names missing blob ' || s.blob_id FROM sightings s LEFT JOIN blobs b ON b.id = s.blob_id WHERE b.id IS NULL`},
		{"version without blob", `SELECT 'version ' || v.document_key || '/' || v.key || ' names missing blob ' || v.blob_id FROM versions v LEFT JOIN blobs b ON b.id = v.blob_id WHERE b.id IS NULL`},
		{"ref count", `SELECT 'blob ' || b.id || ' refs ' || b.refs || ' but ' || COUNT(s.id) || ' sightings' FROM blobs b LEFT JOIN sightings s ON s.blob_id = b.id GROUP BY b.id, b.refs HAVING COUNT(s.id) <> b.refs`},
		{"version sighting", `SELECT 'version link to missing sighting ' || vs.sighting_id FROM version_sightings vs LEFT JOIN sightings s ON s.id = vs.sighting_id WHERE s.id IS NULL`},
		{"sketch", `SELECT 'blob ' || id || ' has no text sketch yet (the next sync computes it)' FROM blobs WHERE sketched = 0 AND damaged = 0`},
		{"damaged", `SELECT 'blob ' || id || ' is damaged: its content will be fetched again by the next sync of a source that has it' FROM blobs WHERE damaged = 1`},
		{"unassigned sighting", `SELECT 'sighting ' || s.id || ' (' || s.source || ' ' || s.ref || ') belongs to no version' FROM sightings s LEFT JOIN version_sightings vs ON vs.sighting_id = s.id WHERE vs.sighting_id IS NULL`},
	}
	var out []string
	for _, ch := range checks {
		rows, err := c.db.QueryContext(ctx, ch.q)
		if err != nil {
			return nil, fmt.Errorf("catalog: check %s: %w", ch.what, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, line)
		}
		rows.Close()
	}
	if c.pg {
		return out, nil // the server keeps its own files consistent
	}
	var ic string
	if err := c.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ic); err != nil {
		return nil, err
	}
	if ic != "ok" {
		out = append(out, "sqlite integrity: "+ic)
	}
	return out, nil
}

// RemoveBlobRow deletes an unreferenced blob row (gc).
func (c *Catalog) RemoveBlobRow(ctx context.Context, id dedupe.ID) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM blob_hashes WHERE blob_id = ?`, `DELETE FROM blob_content WHERE blob_id = ?`, `DELETE FROM blobs WHERE id = ? AND refs = 0`} {
		if _, err := tx.ExecContext(ctx, q, id.String()); err != nil {
			return fmt.Errorf("catalog: gc %s: %w", id.Short(), err)
		}
	}
	return tx.Commit()
}
