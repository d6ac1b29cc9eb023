package pgtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDatabasesAreFreshAndDropped: each DSN is a new, empty database with
// byte-order collation, and is gone when its test ends.
func TestDatabasesAreFreshAndDropped(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("first", func(t *testing.T) {
		dsn := DSN(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		first = strings.TrimPrefix(u.Path, "/")
		db := open(t, dsn)
		if _, err := db.ExecContext(ctx, `CREATE TABLE x (v TEXT)`); err != nil {
			t.Fatal(err)
		}
		var coll string
		if err := db.QueryRowContext(ctx, `SELECT datcollate FROM pg_database WHERE datname = current_database()`).Scan(&coll); err != nil {
			t.Fatal(err)
		}
		if coll != "C" {
			t.Errorf("collation %q, want C", coll)
		}
		var super bool
		if err := db.QueryRowContext(ctx, `SELECT usesuper FROM pg_user WHERE usename = current_user`).Scan(&super); err != nil || !super {
			t.Errorf("superuser %v, %v", super, err)
		}
	})
	dsn := DSN(t)
	db := open(t, dsn)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_tables WHERE tablename = 'x'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("fresh database has %d tables x (%v)", n, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, first).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %s of the ended test: %d (%v)", first, n, err)
	}
}

// TestPasswordRequired: the loopback port asks for the password.
func TestPasswordRequired(t *testing.T) {
	u, err := url.Parse(DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(User, "wrong")
	db := open(t, u.String())
	if err := db.PingContext(context.Background()); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestServerNotRoot: the server's files belong to an unprivileged account.
func TestServerNotRoot(t *testing.T) {
	DSN(t)
	st, err := os.Stat(srv.dir + "/data/postmaster.pid")
	if err != nil {
		t.Fatal(err)
	}
	if uid := fileUID(st); uid == 0 {
		t.Fatalf("postmaster.pid owned by root")
	}
}
