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
	"path/filepath"
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
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "export.db")+"?"+q.Encode())
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s := &treeScratch{dir: dir, db: db}
	_, err = db.ExecContext(ctx, `
		CREATE TABLE old (path TEXT NOT NULL UNIQUE, entry BLOB NOT NULL);
		CREATE TABLE keep (path TEXT PRIMARY KEY) WITHOUT ROWID;
		CREATE TABLE done (doc TEXT NOT NULL, n INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (doc, n)) WITHOUT ROWID;`)
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
	_, err := s.db.ExecContext(ctx, `DELETE FROM old; DELETE FROM keep; DELETE FROM done;`)
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
