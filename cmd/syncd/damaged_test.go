package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A blob damaged on disk is found by verify (exit 1, named, moved aside),
// fetched again from the share by the next sync, and the store verifies
// clean with the same export as before.
func TestVerifyFindsDamageAndSyncRepairsIt(t *testing.T) {
	dir := t.TempDir()
	share := filepath.Join(dir, "share")
	files := map[string]string{
		"Finance/Budget.csv":       "a,b\n1,2\n",
		"Finance/Plan v1.txt":      "the plan, first draft, with numbers",
		"Finance/Plan v2.txt":      "the plan, second draft, with more numbers",
		"Finance/Old/Plan v1.txt":  "the plan, first draft, with numbers",
		"Projects/Alpha/Notes.txt": "alpha notes",
	}
	for p, data := range files {
		full := filepath.Join(share, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "syncd.yaml")
	text := "store: {path: " + filepath.Join(dir, "store") + "}\njobs:\n  - name: j\n    workspace: w\n    sources:\n      - {name: files, type: folder, path: " + share + "}\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, "sync", "--config", cfg, "--log-level", "error"); code != 0 {
		t.Fatalf("sync: %d %s", code, out)
	}
	export := func() string {
		var out, errb bytes.Buffer
		if code := runMain(t.Context(), []string{"export", "--config", cfg, "--format", "json"}, &out, &errb); code != 0 {
			t.Fatalf("export: %d %s", code, errb.String())
		}
		return out.String()
	}
	want := export()
	// Damage the blob of "Plan v1" (two sightings) on disk.
	victim := filepath.Join(dir, "store", "blobs")
	var path string
	filepath.WalkDir(victim, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); string(b) == files["Finance/Plan v1.txt"] {
				path = p
			}
		}
		return nil
	})
	if path == "" {
		t.Fatal("blob of Plan v1 not found")
	}
	if err := os.WriteFile(path, []byte("the plan, first draft, with NUMBERS"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := filepath.Base(path)
	out, code := run(t, "verify", "--config", cfg)
	if code != exitProblems || !strings.Contains(out, "damaged blob "+id) || !strings.Contains(out, "2 sightings queued") {
		t.Fatalf("verify of a damaged store: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "store", "damaged", id)); err != nil {
		t.Fatalf("damaged bytes not kept aside: %v", err)
	}
	if out, code := run(t, "sync", "--config", cfg, "--log-level", "error"); code != 0 {
		t.Fatalf("sync after the damage: %d %s", code, out)
	}
	if out, code := run(t, "verify", "--config", cfg); code != 0 {
		t.Fatalf("verify after the repair: %d %s", code, out)
	}
	if got := export(); got != want {
		t.Fatalf("export after the repair differs\n got %s\nwant %s", got, want)
	}
}
