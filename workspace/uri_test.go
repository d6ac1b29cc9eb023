package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestCatalogPathWithURICharacters: a store path holding '#', '?' or
// '%' (a folder named "Finance #2") keeps its catalog there, in WAL mode
// with the catalog's settings; it used to open a file named by the path
// cut at the '#', beside it, without them.
func TestCatalogPathWithURICharacters(t *testing.T) {
	for _, name := range []string{"Finance #2", "what?", "100%", "a%23b", "plain"} {
		dir := filepath.Join(t.TempDir(), name)
		path := filepath.Join(dir, "catalog.db")
		c, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		var mode string
		if err := c.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%q: journal mode %q (%v), want wal", name, mode, err)
		}
		var fk int
		if err := c.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("%q: foreign keys %d (%v)", name, fk, err)
		}
		c.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%q: no catalog at %s: %v", name, path, err)
		}
		entries, _ := os.ReadDir(filepath.Dir(dir))
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%q: files beside the store: %q", name, names)
		}
		ro, err := Open(context.Background(), path, Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("%q read-only: %v", name, err)
		}
		var n int
		if err := ro.db.QueryRow(`SELECT COUNT(*) FROM audit`).Scan(&n); err != nil {
			t.Errorf("%q read-only: not the catalog: %v", name, err)
		}
		ro.Close()
	}
}
