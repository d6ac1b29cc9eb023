package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A file deleted from a share: the next sync records it gone; `runs`
// lists it, `history` says since when, and the store keeps its version.
func TestGoneShownByRunsAndHistory(t *testing.T) {
	share := t.TempDir()
	if err := os.MkdirAll(filepath.Join(share, "Finance"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"Finance/Budget 2024.csv": "a,b\n1,2\n", "Finance/Plan.txt": "the plan"} {
		writeFile(t, filepath.Join(share, name), data)
	}
	path := tempConfig(t, fmt.Sprintf(`
store: {path: ./data}
jobs:
  - name: docs
    sources:
      - {name: drive, type: share, remote: %q}
`, share))
	cmd := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		full := append([]string{args[0], "--config", path}, args[1:]...)
		if code := runMain(context.Background(), full, &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
		}
		return out.String()
	}
	cmd("sync", "--progress", "none")
	if err := os.Remove(filepath.Join(share, "Finance/Budget 2024.csv")); err != nil {
		t.Fatal(err)
	}
	cmd("sync", "--progress", "none")
	if out := cmd("runs"); !contains(out, "no longer at the source (1; the store keeps them)", "drive: Finance/Budget 2024.csv: deleted") {
		t.Errorf("runs does not list the deleted file:\n%s", out)
	}
	out := cmd("history", "Budget 2024")
	if !contains(out, "drive share Finance/Budget 2024.csv; no longer at the source since ") {
		t.Errorf("history does not say the copy is gone:\n%s", out)
	}
	if out := cmd("report", "--format", "json"); !contains(out, `"gone": 1`, `(no longer at the source since `) {
		t.Errorf("report does not count or show the gone copy:\n%s", out)
	}
	if out := cmd("history", "Plan"); contains(out, "no longer at the source") {
		t.Errorf("history calls a present copy gone:\n%s", out)
	}
}
