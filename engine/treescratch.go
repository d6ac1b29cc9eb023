package engine

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/syncd/syncd/workspace"
)

// treeScratch is a temporary SQLite file holding, for the workspace being
// exported, what would otherwise be a whole-workspace set in memory: the
// previous export's manifest entries (by path), the paths this export
// claimed, and this export's manifest entries, which come out in document
// key order whatever order the folders were written in (SQLite sorts them,
// spilling to disk).
type treeScratch struct {
	dir string
	db  *sql.DB
	tx  *sql.Tx
	n   int64 // entries added, for their order within a document
}

func openTreeScratch(ctx context.Context) (*treeScratch, error) {
	dir, err := os.MkdirTemp("", "syncd-export-")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(OFF)")
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "temp_store(FILE)")
	q.Add("_pragma", "cache_size(-2000)")
	db, err := sql.Open("sqlite", workspace.SQLiteURI(filepath.Join(dir, "export.db"), q))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s := &treeScratch{dir: dir, db: db}
	_, err = db.ExecContext(ctx, `
		CREATE TABLE old (path TEXT NOT NULL UNIQUE, entry BLOB NOT NULL);
		CREATE TABLE keep (path TEXT PRIMARY KEY) WITHOUT ROWID;
		CREATE TABLE done (doc TEXT NOT NULL, n INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (doc, n)) WITHOUT ROWID;
		CREATE TABLE folders (folder TEXT PRIMARY KEY, lower TEXT NOT NULL) WITHOUT ROWID;
		CREATE INDEX folders_lower ON folders (lower, folder);
		CREATE TABLE prefixes (lower TEXT PRIMARY KEY, parent TEXT NOT NULL, seg TEXT NOT NULL, first TEXT NOT NULL) WITHOUT ROWID;
		CREATE INDEX prefixes_parent ON prefixes (parent);`)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("export scratch: %w", err)
	}
	return s, nil
}

func (s *treeScratch) close() {
	if s.tx != nil {
		s.tx.Rollback()
	}
	s.db.Close()
	os.RemoveAll(s.dir)
}

// begin starts the transaction the adds go in.
func (s *treeScratch) begin(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	s.tx = tx
	return err
}

func (s *treeScratch) commit() error {
	err := s.tx.Commit()
	s.tx = nil
	return err
}

// reset empties every table (a new workspace).
func (s *treeScratch) reset(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM old; DELETE FROM keep; DELETE FROM done; DELETE FROM folders; DELETE FROM prefixes;`)
	return err
}

// addOld records a previous entry; the first one at a path wins.
func (s *treeScratch) addOld(ctx context.Context, e ManifestEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.tx.ExecContext(ctx, `INSERT OR IGNORE INTO old (path, entry) VALUES (?, ?)`, e.Path, b)
	return err
}

// dropOld forgets every previous entry (a manifest that turned out bad).
func (s *treeScratch) dropOld(ctx context.Context) error {
	_, err := s.tx.ExecContext(ctx, `DELETE FROM old`)
	return err
}

// oldAt is the previous entry at p, if any.
func (s *treeScratch) oldAt(ctx context.Context, p string) (ManifestEntry, bool, error) {
	var b []byte
	err := s.tx.QueryRowContext(ctx, `SELECT entry FROM old WHERE path = ?`, p).Scan(&b)
	if err == sql.ErrNoRows {
		return ManifestEntry{}, false, nil
	}
	if err != nil {
		return ManifestEntry{}, false, err
	}
	var e ManifestEntry
	err = json.Unmarshal(b, &e)
	return e, err == nil, err
}

// keep records that this export claimed p.
func (s *treeScratch) keep(ctx context.Context, p string) error {
	_, err := s.tx.ExecContext(ctx, `INSERT OR IGNORE INTO keep (path) VALUES (?)`, p)
	return err
}

// addDone adds an entry of the new manifest.
func (s *treeScratch) addDone(ctx context.Context, e ManifestEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s.n++
	_, err = s.tx.ExecContext(ctx, `INSERT INTO done (doc, n, entry) VALUES (?, ?, ?)`, e.Document, s.n, b)
	return err
}

// writeManifest writes the new manifest to w exactly as
// json.MarshalIndent(entries, "", " ") would, one entry at a time.
func (s *treeScratch) writeManifest(ctx context.Context, w io.Writer) error {
	rows, err := s.db.QueryContext(ctx, `SELECT entry FROM done ORDER BY doc, n`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var buf bytes.Buffer
	first := true
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		buf.Reset()
		if first {
			buf.WriteString("[\n ")
		} else {
			buf.WriteString(",\n ")
		}
		first = false
		if err := json.Indent(&buf, b, " ", " "); err != nil {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	end := "\n]"
	if first {
		end = "[]"
	}
	_, err = io.WriteString(w, end)
	return err
}

// eachStale calls fn for every previous entry whose path this export did
// not claim, in the previous manifest's order.
func (s *treeScratch) eachStale(ctx context.Context, fn func(path, sha string)) error {
	rows, err := s.db.QueryContext(ctx, `SELECT entry FROM old WHERE path NOT IN (SELECT path FROM keep) ORDER BY rowid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		var e ManifestEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		fn(e.Path, e.SHA256)
	}
	return rows.Err()
}

// addPrefix records an exported folder path (lower case) seen in the
// stored folder of the document first: the smallest first spells it.
func (s *treeScratch) addPrefix(ctx context.Context, lower, parent, seg, first string) error {
	_, err := s.tx.ExecContext(ctx, `INSERT INTO prefixes (lower, parent, seg, first) VALUES (?, ?, ?, ?)
		ON CONFLICT (lower) DO UPDATE SET seg = excluded.seg, first = excluded.first WHERE excluded.first < prefixes.first`,
		lower, parent, seg, first)
	return err
}

// addFolder records that the stored folder is exported at lower.
func (s *treeScratch) addFolder(ctx context.Context, folder, lower string) error {
	_, err := s.tx.ExecContext(ctx, `INSERT OR IGNORE INTO folders (folder, lower) VALUES (?, ?)`, folder, lower)
	return err
}

// nextGroup is the first exported folder after after (or from it, when
// inclusive), with the stored folders exported there.
func (s *treeScratch) nextGroup(ctx context.Context, after string, inclusive bool) (lower string, stored []string, ok bool, err error) {
	q := `SELECT lower FROM folders WHERE lower > ? ORDER BY lower LIMIT 1`
	if inclusive {
		q = `SELECT lower FROM folders WHERE lower >= ? ORDER BY lower LIMIT 1`
	}
	err = s.tx.QueryRowContext(ctx, q, after).Scan(&lower)
	if err == sql.ErrNoRows {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	rows, err := s.tx.QueryContext(ctx, `SELECT folder FROM folders WHERE lower = ? ORDER BY folder`, lower)
	if err != nil {
		return "", nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return "", nil, false, err
		}
		stored = append(stored, f)
	}
	return lower, stored, true, rows.Err()
}

// spelling is how the exported folder lower is spelled.
func (s *treeScratch) spelling(ctx context.Context, lower string) (string, error) {
	if lower == "" {
		return "", nil
	}
	var segs []string
	for p := lower; p != "." && p != ""; p = path.Dir(p) {
		var seg string
		if err := s.tx.QueryRowContext(ctx, `SELECT seg FROM prefixes WHERE lower = ?`, p).Scan(&seg); err != nil {
			return "", fmt.Errorf("folder %q: %w", p, err)
		}
		segs = append(segs, seg)
	}
	slices.Reverse(segs)
	return strings.Join(segs, "/"), nil
}

// children are the exported folders directly in lower (lower case).
func (s *treeScratch) children(ctx context.Context, lower string) (map[string]bool, error) {
	rows, err := s.tx.QueryContext(ctx, `SELECT lower FROM prefixes WHERE parent = ?`, lower)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out[c] = true
	}
	return out, rows.Err()
}
