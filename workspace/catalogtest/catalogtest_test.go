package catalogtest_test

import (
	"context"
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
