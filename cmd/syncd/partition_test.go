package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncd/syncd/workspace"
)

// The demo job with every source partitioned (mailboxes, the share's
// top-level folders, the SharePoint libraries, each a unit with its own
// cursor) stores what the same job run whole stores and exports the same
// tree; a second sync lists nothing again.
func TestPartitionedDemoJob(t *testing.T) {
	corpus := testCorpus(t, 120)
	dir := t.TempDir()
	refStore := filepath.Join(dir, "ref")
	want := syncAndExport(t, writeTestConfig(t, corpus, refStore), refStore, filepath.Join(dir, "want"))

	store := filepath.Join(dir, "parts")
	cfg := writeTestConfig(t, corpus, store)
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := string(raw)
	n := strings.Count(b, "        type: ")
	writeFile(t, cfg, strings.ReplaceAll(b, "        type: ", "        partition: true\n        type: "))
	if n < 3 {
		t.Fatalf("the demo job has %d sources", n)
	}
	got := syncAndExport(t, cfg, store, filepath.Join(dir, "got"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("partitioned, the catalog differs from a whole run's:\n%s", diffLines(want, got))
	}
	sameExport(t, exportContents(t, filepath.Join(dir, "got")), exportContents(t, filepath.Join(dir, "want")), "partitioned", "run whole")

	if out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("second sync: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	cat, err := workspace.Open(ctx, filepath.Join(store, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	runs, err := cat.Runs(ctx, "", 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	if c := runs[0].Counts; c.Scanned != 0 || c.New+c.Duplicate+c.HashHits != 0 || runs[0].Status != workspace.StatusOK {
		t.Errorf("second sync: %s, counts %+v; want nothing listed again", runs[0].Status, c)
	}
	units, err := cat.Units(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{}
	for _, u := range units {
		if src, _, ok := strings.Cut(u.Name, "/"); ok {
			parts[src]++
		}
	}
	// The demo's share has several top-level folders; each site one
	// library.
	for src, want := range map[string]int{"share": 6, "sharepoint-1": 1, "sharepoint-2": 1} {
		if parts[src] != want {
			t.Errorf("source %s ran as %d parts, want %d (units %+v)", src, parts[src], want, units)
		}
	}
	mail := 0
	for src, n := range parts {
		if strings.HasPrefix(src, "mail-") && n >= 1 {
			mail++
		}
	}
	if mail == 0 {
		t.Errorf("no mailbox ran as a part: %v", parts)
	}
	if cur, _ := cat.PartCursors(ctx, "share"); !slices.Contains(cur, "Bulk") {
		t.Errorf("share's part cursors %q: want Bulk among them", cur)
	}
}
