package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/workspace"
)

// TestHistoryRebuildCheckCaps: 'history check' passes on a synced store
// and names a document someone changed behind syncd's back; 'history
// rebuild --full' puts it right; a small history.key_cap rebuilds every
// document with it, 'history caps' explains what it capped, and the
// stored history still equals the whole-catalog rebuild with that cap.
func TestHistoryRebuildCheckCaps(t *testing.T) {
	cfg := demoStore(t)
	out, code := run(t, "history", "check", "--config", cfg)
	if code != 0 || !strings.Contains(out, "matches a rebuild of the whole catalog") {
		t.Fatalf("check of a synced store: %d %s", code, out)
	}
	cat, err := workspace.Open(context.Background(), filepath.Join(filepath.Dir(cfg), "store", "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var key string
	if err := cat.DB().QueryRow(`SELECT key FROM documents ORDER BY key LIMIT 1`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.DB().Exec(`UPDATE documents SET name = 'tampered' WHERE key = ?`, key); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	out, code = run(t, "history", "check", "--config", cfg)
	if code != exitProblems || !strings.Contains(out, "differs: "+key) {
		t.Fatalf("check after a document was changed: %d %s", code, out)
	}
	out, code = run(t, "history", "rebuild", "--full", "--config", cfg)
	if code != 0 || !strings.Contains(out, "1 documents written") {
		t.Fatalf("rebuild --full: %d %s", code, out)
	}
	if out, code = run(t, "history", "check", "--config", cfg); code != 0 {
		t.Fatalf("check after rebuild --full: %d %s", code, out)
	}

	out, _ = run(t, "history", "caps", "--config", cfg)
	if !strings.Contains(out, "nothing is capped") {
		t.Fatalf("caps at the default cap: %s", out)
	}
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(text, []byte("history:\n  key_cap: 2\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, "history", "rebuild", "--config", cfg)
	if code != 0 || !strings.Contains(out, "too common to group documents") {
		t.Fatalf("rebuild with key_cap 2: %d %s", code, out)
	}
	out, code = run(t, "history", "caps", "--config", cfg)
	if code != 0 || !strings.Contains(out, "key_cap is 2") || !strings.Contains(out, "more than 2 blobs") {
		t.Fatalf("caps with key_cap 2: %d %s", code, out)
	}
	if out, code = run(t, "history", "check", "--config", cfg); code != 0 {
		t.Fatalf("check with key_cap 2: %d %s", code, out)
	}
}
