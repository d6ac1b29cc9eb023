package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// A copy deleted at the source is recorded gone by the next run: its
// sighting, version and content stay; the run lists it; the export says
// since when it is gone; nothing else changes.
func TestGoneCopiesAreKept(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := exportOf(t, e.cat)
	e.src.Remove(budget)
	res, err := e.run(context.Background())
	if err != nil || res.Status != workspace.StatusOK || res.Counts.Gone != 1 {
		t.Fatalf("run after the deletion: %v %s %v", err, res.Status, res.Counts)
	}
	items, _ := e.cat.RunItems(context.Background(), res.RunID)
	if len(items) != 1 || items[0].Ref != budget || items[0].Action != string(engine.ActGone) || items[0].Reason != "deleted" {
		t.Fatalf("run items %+v, want one gone item for %s", items, budget)
	}
	if n := sightingsOf(t, e.cat, budget); n != 1 {
		t.Fatalf("%d sightings of %s, want it kept", n, budget)
	}
	after := exportOf(t, e.cat)
	var exp struct {
		Documents []struct {
			Versions []struct {
				Sightings []map[string]any `json:"sightings"`
			} `json:"versions"`
		} `json:"documents"`
	}
	if err := json.Unmarshal([]byte(after), &exp); err != nil {
		t.Fatal(err)
	}
	gone := 0
	for _, d := range exp.Documents {
		for _, v := range d.Versions {
			for _, s := range v.Sightings {
				if g, ok := s["gone"].(string); ok {
					gone++
					if s["path"] != budget || !strings.HasPrefix(g, "20") {
						t.Errorf("gone sighting %v", s)
					}
				}
			}
		}
	}
	if gone != 1 {
		t.Errorf("export marks %d sightings gone, want 1", gone)
	}
	if withoutGone(t, after) != withoutGone(t, before) {
		t.Errorf("the export changed beyond the gone mark:\n%s\n---\n%s", before, after)
	}
	res, err = e.run(context.Background())
	if err != nil || res.Counts.Gone != 0 {
		t.Errorf("next run: %v, counts %v; want nothing gone again", err, res.Counts)
	}
}

// withoutGone is an export with every "gone" field dropped.
func withoutGone(t *testing.T, export string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(export), &v); err != nil {
		t.Fatal(err)
	}
	var drop func(any)
	drop = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "gone")
			for _, c := range x {
				drop(c)
			}
		case []any:
			for _, c := range x {
				drop(c)
			}
		}
	}
	drop(v)
	b, _ := json.Marshal(v)
	return string(b)
}
