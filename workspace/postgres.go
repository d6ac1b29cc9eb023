package workspace

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The catalog on PostgreSQL. The catalog's SQL is written once, with
// SQLite's ? placeholders; the connections of a PostgreSQL catalog rewrite
// them to $1, $2, ... (rebind), so every query, transaction and prepared
// statement keeps its shape. What the two databases spell differently is
// chosen by c.pg at the few places it matters (see docs/design.md).

// migrationLock is the pg_advisory_lock key the migrations run under, so
// that processes starting at once on a new database migrate it once.
const migrationLock = 0x73796e6364 // "syncd"

// OpenPostgres opens (creating and migrating) the catalog in the
// PostgreSQL database dsn names. The database must sort text by bytes (C
// or POSIX collation), as SQLite does: listings and exports are ordered by
// the database. Errors never carry the DSN's password.
func OpenPostgres(ctx context.Context, dsn string) (*Catalog, error) {
	c, err := openPostgres(ctx, dsn)
	if err != nil {
		return nil, redactErr(err, dsn)
	}
	return c, nil
}

func openPostgres(ctx context.Context, dsn string) (*Catalog, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("catalog: postgres: the DSN does not parse")
	}
	where := "postgres://" + cfg.User + "@" + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	c := &Catalog{db: db, path: where, pg: true, now: time.Now, stmts: map[string]*sql.Stmt{}}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", where, err)
	}
	var coll string
	if err := db.QueryRowContext(ctx, `SELECT datcollate FROM pg_database WHERE datname = current_database()`).Scan(&coll); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", where, err)
	}
	if !byteOrder(coll) {
		db.Close()
		return nil, fmt.Errorf("catalog %s: database collation %q: syncd needs byte order (create the database with LC_COLLATE 'C' TEMPLATE template0)", where, coll)
	}
	if err := c.migrateLocked(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", where, err)
	}
	return c, nil
}

// byteOrder: collations that compare text as bytes (UTF-8 byte order is
// code point order, which C.UTF-8 uses).
func byteOrder(coll string) bool {
	switch strings.ToLower(coll) {
	case "c", "posix", "c.utf8", "c.utf-8":
		return true
	}
	return false
}

// migrateLocked migrates under a session advisory lock held on a
// connection of its own: a second process waits, then finds the
// migrations applied.
func (c *Catalog) migrateLocked(ctx context.Context) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, int64(migrationLock))
	return c.migrate(ctx)
}

// redactErr replaces the DSN and its password in err's text.
func redactErr(err error, dsn string) error {
	msg := err.Error()
	secrets := []string{dsn}
	if cfg, perr := pgx.ParseConfig(dsn); perr == nil && cfg.Password != "" {
		secrets = append(secrets, cfg.Password)
	}
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }

// Is keeps errors.Is working without exposing the wrapped text.
func (e redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// rebind turns the ? placeholders of q into $1, $2, ..., leaving quoted
// strings, quoted identifiers and comments alone.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		ch := q[i]
		switch ch {
		case '\'', '"':
			j := strings.IndexByte(q[i+1:], ch)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
			continue
		case '-':
			if i+1 < len(q) && q[i+1] == '-' {
				j := strings.IndexByte(q[i:], '\n')
				if j < 0 {
					b.WriteString(q[i:])
					return b.String()
				}
				b.WriteString(q[i : i+j])
				i += j - 1
				continue
			}
		case '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// rebindConnector hands out pgx connections that rebind every statement.
type rebindConnector struct{ driver.Connector }

func (rc rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := rc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("catalog: postgres: unexpected driver connection %T", conn)
	}
	return &rebindConn{sc}, nil
}

// rebindConn is a pgx database/sql connection (transactions, session
// reset, value checks unchanged) whose statements are rebound.
type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(q string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(context.Background(), rebind(q))
}

func (c *rebindConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(q))
}

func (c *rebindConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(q), args)
}

func (c *rebindConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(q), args)
}

// readSnapshot opens n read-only transactions that see one snapshot, for n
// cursors read side by side. On SQLite one connection serves them all (its
// statements interleave). A PostgreSQL connection runs one statement at a
// time, so there each cursor gets a connection of its own, importing the
// snapshot the first one exports. done rolls back and returns them.
func (c *Catalog) readSnapshot(ctx context.Context, n int) (conns []*sql.Conn, done func(), err error) {
	var opened []*sql.Conn
	done = func() {
		for _, conn := range opened {
			conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
			conn.Close()
		}
	}
	defer func() {
		if err != nil {
			done()
		}
	}()
	begin := func() (*sql.Conn, error) {
		conn, err := c.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		q := `BEGIN DEFERRED`
		if c.pg {
			q = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
		}
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			return nil, err
		}
		opened = append(opened, conn)
		return conn, nil
	}
	first, err := begin()
	if err != nil {
		return nil, nil, err
	}
	if !c.pg {
		for range n {
			conns = append(conns, first)
		}
		return conns, done, nil
	}
	var snap string
	if err := first.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
		return nil, nil, err
	}
	conns = append(conns, first)
	for len(conns) < n {
		conn, err := begin()
		if err != nil {
			return nil, nil, err
		}
		if _, err := conn.ExecContext(ctx, `SET TRANSACTION SNAPSHOT '`+snapshotID(snap)+`'`); err != nil {
			return nil, nil, err
		}
		conns = append(conns, conn)
	}
	return conns, done, nil
}

// snapshotID keeps only the characters pg_export_snapshot's identifiers
// are made of (hex digits and dashes), so the id is safe to quote.
func snapshotID(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || ('0' <= r && r <= '9') || ('A' <= r && r <= 'F') || ('a' <= r && r <= 'f') {
			return r
		}
		return -1
	}, s)
}

// writeLock is the pg_advisory_xact_lock key every write transaction
// takes first. The catalog's writes were made for SQLite, whose immediate
// transactions run one at a time: a commit reads what it then updates
// (blob reference counts, history queues) in an order of its own, and two
// at once on PostgreSQL deadlock. Taking one lock first gives PostgreSQL
// SQLite's order; reads (snapshots) never wait for it.
const writeLock = migrationLock + 1

// BeginTx begins a transaction; one that may write waits for writeLock.
func (c *rebindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil || opts.ReadOnly {
		return tx, err
	}
	if _, err := c.Conn.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, []driver.NamedValue{{Ordinal: 1, Value: int64(writeLock)}}); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("catalog write lock: %w", err)
	}
	return tx, nil
}
