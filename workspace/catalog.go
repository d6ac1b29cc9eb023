// Package workspace is syncd's central store (the catalog): workspaces,
// documents and their version DAGs, sightings with provenance, blobs,
// per-source cursors, runs and an append-only audit log. SQLite by default.
package workspace

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Sentinel errors.
var (
	ErrNotFound = errors.New("not found")
	ErrLocked   = errors.New("locked by another process")
	ErrTooNew   = errors.New("catalog schema is newer than this syncd")
)

// Catalog is an open catalog database.
type Catalog struct {
	db   *sql.DB
	path string
	pg   bool // PostgreSQL (postgres.go); SQLite otherwise
	now  func() time.Time

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // hot lookups, prepared once (see queryRow)
	// indexCacheMB is the page cache of the history indexer (SetIndexCache).
	indexCacheMB int
}

// Options for Open.
type Options struct {
	ReadOnly bool
}

// Open opens (creating and migrating) the SQLite catalog at path. A new
// file being set up by another process at the same moment (switching it
// to WAL takes a lock SQLite does not wait for) is waited for.
func Open(ctx context.Context, path string, opt Options) (*Catalog, error) {
	delay := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		c, err := open(ctx, path, opt)
		if err == nil || !busy(err) || attempt >= 40 {
			return c, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// busy reports SQLite's "database is locked" (SQLITE_BUSY).
func busy(err error) bool {
	return strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked")
}

// SQLiteURI is the driver's name for the SQLite database file at path
// with the query q: a "file:" URI whose path has '%', '?' and '#' escaped,
// which SQLite would otherwise read as an escape, the start of the query
// or of a fragment (a store in "Finance #2" opened "Finance " instead).
func SQLiteURI(path string, q url.Values) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path) + "?" + q.Encode()
}

func open(ctx context.Context, path string, opt Options) (*Catalog, error) {
	if !opt.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	if opt.ReadOnly {
		q.Add("mode", "ro")
		if !exists(path + "-wal") {
			// No writer and no unfinished log: read the file as it is,
			// without creating -shm/-wal beside it (a plan must leave the
			// store's files byte-for-byte alone).
			q.Add("immutable", "1")
		}
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	dsn := SQLiteURI(path, q)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	c := &Catalog{db: db, path: path, now: time.Now, stmts: map[string]*sql.Stmt{}}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	if !opt.ReadOnly {
		if err := c.migrate(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("catalog %s: %w", path, err)
		}
	}
	return c, nil
}

// Close closes the database.
func (c *Catalog) Close() error {
	c.stmtMu.Lock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
	c.stmtMu.Unlock()
	return c.db.Close()
}

// queryRow runs a lookup made once per item (is this sighting known, is
// this content stored) with a statement prepared once per catalog instead
// of once per call.
func (c *Catalog) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	c.stmtMu.Lock()
	st := c.stmts[q]
	if st == nil && c.stmts != nil {
		// Prepared without the caller's context: the statement outlives
		// the call, and a cancelled caller must not fail the preparation
		// for everyone else.
		var err error
		if st, err = prepare(context.Background(), c.db, q); err == nil {
			c.stmts[q] = st
		}
	}
	c.stmtMu.Unlock()
	if st == nil {
		return c.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Path is the database file (on PostgreSQL: the database's address,
// without its password).
func (c *Catalog) Path() string { return c.path }

// DB exposes the database for read-only reporting queries.
func (c *Catalog) DB() *sql.DB { return c.db }

// SetClock replaces the clock (tests).
func (c *Catalog) SetClock(now func() time.Time) { c.now = now }

func (c *Catalog) stamp() string { return formatTime(c.now()) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

type migration struct {
	version int
	name    string
}

// listMigrations lists the migrations of a dialect ("sqlite",
// "postgres"): NNN_name.sql is portable SQL, NNN_name.<dialect>.sql is
// that dialect's version of migration NNN.
func listMigrations(dialect string) ([]migration, error) {
	ents, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		n := e.Name()
		v, err := strconv.Atoi(strings.SplitN(n, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad name", n)
		}
		if parts := strings.Split(n, "."); len(parts) == 3 && parts[1] != dialect {
			continue
		}
		out = append(out, migration{v, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrations names the migrations this build applies, oldest first.
func Migrations() []string {
	ms, _ := listMigrations("sqlite")
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.name
	}
	return out
}

// SchemaVersion is the newest migration this build knows.
func SchemaVersion() int {
	ms, _ := listMigrations("sqlite")
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the migrations this build knows, each in its own write
// transaction that first re-reads the schema version: SQLite's immediate
// transactions serialise writers, so two processes opening a new store at
// once apply each migration exactly once (the second sees it applied). On
// PostgreSQL an advisory lock does that (migrateLocked).
func (c *Catalog) migrate(ctx context.Context) error {
	ms, err := listMigrations(c.dialect())
	if err != nil {
		return err
	}
	for i, m := range ms {
		if err := c.applyMigration(ctx, m, i == len(ms)-1); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration applies m unless the schema already has it; last says
// m is the newest migration this build knows.
func (c *Catalog) applyMigration(ctx context.Context, m migration, last bool) (err error) {
	tx, err := c.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock): the write lock first
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)`); err != nil {
		return err
	}
	var cur int
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return err
	}
	if last && cur > m.version {
		err = fmt.Errorf("%w: schema %d, this build knows %d", ErrTooNew, cur, m.version)
		return err
	}
	if cur >= m.version {
		return tx.Commit()
	}
	body, err := migrations.ReadFile("migrations/" + m.name)
	if err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, string(body)); err != nil {
		err = fmt.Errorf("migration %s: %w", m.name, err)
		return err
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`, m.version, m.name, c.stamp()); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		err = fmt.Errorf("migration %s: %w", m.name, err)
		return err
	}
	return nil
}

func (c *Catalog) dialect() string {
	if c.pg {
		return "postgres"
	}
	return "sqlite"
}

// Snapshot writes a consistent copy of the catalog to dst (used by dry
// runs, which work on a scratch copy so the real store is never touched).
func (c *Catalog) Snapshot(ctx context.Context, dst string) error {
	if c.pg {
		return errors.New("catalog snapshot: not on PostgreSQL (CopyFrom copies it)")
	}
	if _, err := c.db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("catalog snapshot: %w", err)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
