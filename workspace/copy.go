package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// copyTables are the catalog's tables in an order that satisfies its
// foreign keys. locks is left out: a lock belongs to a process of the
// catalog it was taken in.
var copyTables = []string{
	"workspaces", "blobs", "blob_hashes", "blob_content", "blob_texts", "sightings", "cursors",
	"documents", "versions", "version_parents", "version_sightings",
	"runs", "run_units", "run_items", "audit", "pins", "retries",
	"history_nodes", "history_keys", "history_capped", "history_dirty",
	"history_todo_sightings", "history_todo_contents", "history_todo_pins", "history_meta",
}

// copyChunk is how many rows one INSERT carries.
const copyChunk = 200

// ErrNotEmpty: the destination of a copy already holds a catalog.
var ErrNotEmpty = errors.New("the destination catalog is not empty")

// CopyFrom copies every row of src, read from one snapshot, into c, which
// must be empty (new, migrated to the same schema), in one transaction:
// an interrupted copy leaves c empty. Either catalog may be on SQLite or
// PostgreSQL: rows go column by column, by name, so the one column only
// PostgreSQL has (run_items.id, SQLite's rowid) is made anew in the same
// order. Identity sequences are moved past the copied ids. The same
// transaction adds a store.copy audit entry naming src (CopiedFrom).
func (c *Catalog) CopyFrom(ctx context.Context, src *Catalog, actor string) error {
	conns, done, err := src.readSnapshot(ctx, 1)
	if err != nil {
		return fmt.Errorf("catalog copy: %w", err)
	}
	defer done()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog copy: %w", err)
	}
	defer tx.Rollback()
	// The audit log may already hold the maintenance of the new store
	// itself (a lock taken over); the source's entries follow those.
	for _, t := range []string{"sightings", "runs", "pins", "blobs"} {
		var any int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM `+t+` LIMIT 1) AS one`).Scan(&any); err != nil {
			return fmt.Errorf("catalog copy: %w", err)
		}
		if any > 0 {
			return fmt.Errorf("catalog copy to %s: %w (it has %s)", c.path, ErrNotEmpty, t)
		}
	}
	var n int64
	for _, t := range copyTables {
		rows, err := c.copyTable(ctx, tx, conns[0], src, t)
		if err != nil {
			return fmt.Errorf("catalog copy: %s: %w", t, err)
		}
		n += rows
	}
	if c.pg {
		if err := resetIdentities(ctx, tx); err != nil {
			return fmt.Errorf("catalog copy: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit (time, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)`,
		c.stamp(), actor, copyAction, src.Path(), fmt.Sprintf("%d rows", n)); err != nil {
		return fmt.Errorf("catalog copy: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog copy: %w", err)
	}
	// The planner's statistics of the rows just written, as after a
	// restore: without them PostgreSQL plans the first queries on the new
	// catalog blind, until autovacuum gets round to it. (SQLite plans
	// without statistics, and the catalog's queries are written for that.)
	if c.pg {
		if _, err := c.db.ExecContext(ctx, `ANALYZE`); err != nil {
			return fmt.Errorf("catalog copy: analyze: %w", err)
		}
	}
	return nil
}

// copyAction is the audit action of CopyFrom.
const copyAction = "store.copy"

// CopiedFrom reports whether the catalog was made by CopyFrom of the
// catalog at path (src.Path()).
func (c *Catalog) CopiedFrom(ctx context.Context, path string) (bool, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit WHERE action = ? AND subject = ?`, copyAction, path).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("catalog: audit: %w", err)
	}
	return n > 0, nil
}

// columns lists the columns of table t.
func columns(ctx context.Context, q querier, t string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT * FROM `+t+` LIMIT 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}

func (c *Catalog) copyTable(ctx context.Context, tx *sql.Tx, from *sql.Conn, src *Catalog, t string) (int64, error) {
	have, err := columns(ctx, from, t)
	if err != nil {
		return 0, err
	}
	want, err := columns(ctx, tx, t)
	if err != nil {
		return 0, err
	}
	var cols []string
	for _, col := range have {
		if t == "audit" && col == "id" {
			continue // new ids, in the same order
		}
		for _, w := range want {
			if w == col {
				cols = append(cols, col)
			}
		}
	}
	order := ""
	switch t {
	case "run_items":
		order = ` ORDER BY ` + src.itemOrder()
	case "audit":
		order = ` ORDER BY id`
	}
	rows, err := from.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+t+order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	// Migrations seed a few rows (history_meta); the copy brings the
	// source's instead.
	if t != "audit" {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return 0, err
		}
	}
	override := ""
	if c.pg {
		override = " OVERRIDING SYSTEM VALUE"
	}
	row := "(" + placeholders(len(cols)) + ")"
	insert := func(n int) string {
		return `INSERT INTO ` + t + ` (` + strings.Join(cols, ", ") + `)` + override + ` VALUES ` +
			strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	full, err := tx.PrepareContext(ctx, insert(copyChunk))
	if err != nil {
		return 0, err
	}
	defer full.Close()
	args := make([]any, 0, copyChunk*len(cols))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		var err error
		if n := len(args) / len(cols); n == copyChunk {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insert(n), args...)
		}
		args = args[:0]
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			// An empty BLOB reads back as a nil []byte, which the
			// other side would store as NULL: keep it empty.
			if b, ok := v.([]byte); ok && b == nil {
				vals[i] = []byte{}
			}
		}
		n++
		args = append(args, vals...)
		if len(args) == copyChunk*len(cols) {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// resetIdentities moves every identity column's sequence past the
// largest id its table holds, so that new rows do not collide with
// copied ones.
func resetIdentities(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name`)
	if err != nil {
		return err
	}
	var ids [][2]string
	for rows.Next() {
		var t, col string
		if err := rows.Scan(&t, &col); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, [2]string{t, col})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		t, col := pgIdent(id[0]), pgIdent(id[1])
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX(`+col+`), 0) + 1, false) FROM `+t,
			t, id[1]); err != nil {
			return fmt.Errorf("identity %s.%s: %w", id[0], id[1], err)
		}
	}
	return nil
}

// pgIdent quotes a PostgreSQL identifier.
func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
