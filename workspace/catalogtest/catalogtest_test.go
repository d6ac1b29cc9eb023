package catalogtest_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncd/syncd/internal/pgtest"
	"github.com/syncd/syncd/workspace"
	"github.com/syncd/syncd/workspace/catalogtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestSQLite(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) *workspace.Catalog {
		c, err := workspace.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), workspace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}

func TestPostgres(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) *workspace.Catalog {
		c, err := workspace.OpenPostgres(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}

func openSQLite(t *testing.T) *workspace.Catalog {
	c, err := workspace.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openPostgres(t *testing.T) *workspace.Catalog {
	c, err := workspace.OpenPostgres(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCopySQLiteToPostgres(t *testing.T) { catalogtest.RunCopy(t, openSQLite, openPostgres) }
func TestCopyPostgresToSQLite(t *testing.T) { catalogtest.RunCopy(t, openPostgres, openSQLite) }

// TestCopyIntoPostgresAnalyzes: a copy into PostgreSQL leaves the
// planner's statistics of the rows it wrote, as a restore should; without
// them the first queries on the new catalog are planned blind, until
// autovacuum gets round to it.
func TestCopyIntoPostgresAnalyzes(t *testing.T) {
	ctx := context.Background()
	src := openSQLite(t)
	_, err := src.AddPin(ctx, "merge", []string{"a", "b"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.DSN(t)
	dst, err := workspace.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	analyzed := func() int {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname = 'pins' AND last_analyze IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := analyzed(); n != 0 {
		t.Fatalf("pins analyzed before the copy (%d)", n)
	}
	if err := dst.CopyFrom(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	// pg_stat_user_tables is the statistics collector's view, written
	// when a backend reports; ask for a fresh snapshot.
	if _, err := db.ExecContext(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	if n := analyzed(); n != 1 {
		t.Errorf("pins not analyzed after the copy")
	}
}
