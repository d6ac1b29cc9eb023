package workspace

import (
	"context"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
)

// TestMigration12RequeuesTheIndex: migration 12 (name families changed)
// empties the history index and queues every sighting, content and pin
// again, with a full rebuild next, so no key worked out by the old rule
// survives the upgrade.
func TestMigration12RequeuesTheIndex(t *testing.T) {
	ctx := context.Background()
	c, run := catalogWithRun(t)
	var blobs []string
	for i, name := range []string{"Budget.xlsx", "Kopie von Budget.xlsx", "Budget-DESKTOP-4F2K9.xlsx"} {
		sums, _ := dedupe.HashReader(strings.NewReader(name))
		blobs = append(blobs, sums.ID.String())
		b := &Batch{RunID: run,
			Blobs:     []Blob{{Sums: sums, Sketched: true}},
			Contents:  []Content{{Blob: sums.ID, Kind: "xlsx", Tokens: 2, Sketch: []uint64{uint64(i)}}},
			Sightings: []Sighting{{Source: "s", Kind: "share", Ref: name, Blob: sums.ID, Name: name, Workspace: "w", Lineage: connectors.Lineage{Kind: "share"}, RunID: run}},
		}
		if _, err := c.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AddPin(ctx, "merge", map[string]any{"blob": blobs[0], "blobs": []string{blobs[1]}}, "t"); err != nil {
		t.Fatal(err)
	}
	// The index as an older syncd left it: every queue worked off, nodes
	// and keys of the old rule, the last rebuild full.
	for _, q := range []string{
		`DELETE FROM history_todo_sightings`, `DELETE FROM history_todo_contents`, `DELETE FROM history_todo_pins`,
		`INSERT INTO history_nodes (id, workspace, blob_id, keyset, places) VALUES (1, 'w', '` + blobs[1] + `', x'00', 1)`,
		`INSERT INTO history_keys (key, node, kind) VALUES (42, 1, 0)`,
		`INSERT INTO history_capped (key, nodes, what, label) VALUES (43, 5000, 'name', 'kopie von budget.xlsx')`,
		`INSERT INTO history_dirty (node) VALUES (1)`,
		`UPDATE history_meta SET value = '0' WHERE name = 'full'`,
		// (and before migration 13, which comes again after it)
		`DELETE FROM schema_migrations WHERE version >= 12`, `DROP INDEX run_units_todo`,
	} {
		if _, err := c.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := c.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		var n int
		if err := c.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for q, want := range map[string]int{
		`SELECT COUNT(*) FROM history_nodes`:                                    0,
		`SELECT COUNT(*) FROM history_keys`:                                     0,
		`SELECT COUNT(*) FROM history_capped`:                                   0,
		`SELECT COUNT(*) FROM history_dirty`:                                    0,
		`SELECT COUNT(*) FROM history_todo_sightings`:                           count(`SELECT COUNT(*) FROM sightings`),
		`SELECT COUNT(*) FROM history_todo_contents`:                            count(`SELECT COUNT(*) FROM blob_content`),
		`SELECT COUNT(*) FROM history_todo_pins`:                                count(`SELECT COUNT(*) FROM pins`),
		`SELECT COUNT(*) FROM history_meta WHERE name = 'full' AND value = '1'`: 1,
		`SELECT MAX(version) FROM schema_migrations`:                            SchemaVersion(),
	} {
		if got := count(q); got != want {
			t.Errorf("after migration 12, %s = %d, want %d", q, got, want)
		}
	}
	if n := count(`SELECT COUNT(*) FROM history_todo_sightings`); n != 3 {
		t.Errorf("%d sightings queued, want 3", n)
	}
}
