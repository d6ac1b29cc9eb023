package workspace_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/syncd/syncd/workspace"
)

// goneRefs lists the refs of source s whose sightings are marked gone.
func goneRefs(t *testing.T, c *workspace.Catalog) []string {
	t.Helper()
	var out []string
	err := c.EachSighting(context.Background(), func(s workspace.Sighting) error {
		if !s.Gone.IsZero() {
			out = append(out, s.Ref)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// Marks: Under takes a container (the ref and what lies below it after a
// "/", not a sibling sharing a prefix); a plain mark one ref; a mark back
// clears; the time first seen gone is kept; marks apply before the
// batch's new sightings.
func TestGoneMarks(t *testing.T) {
	c, _ := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	c.SetClock(func() time.Time { return now })
	run, _ := c.StartRun(ctx, "job", "sync")
	for i, ref := range []string{"acct/INBOX/7/12", "acct/INBOX/7/12/2", "acct/INBOX/7/12/3.1", "acct/INBOX/7/120/2", "acct/INBOX/7/12-x", "share/a.txt"} {
		if _, err := c.Commit(ctx, batch(run, "content "+string(rune('a'+i)), ref)); err != nil {
			t.Fatal(err)
		}
	}
	mark := func(m ...workspace.Mark) {
		t.Helper()
		if _, err := c.Commit(ctx, &workspace.Batch{RunID: run, Marks: m}); err != nil {
			t.Fatal(err)
		}
	}
	mark(workspace.Mark{Source: "s", Ref: "acct/INBOX/7/12", Under: true, Gone: true})
	if got, want := goneRefs(t, c), []string{"acct/INBOX/7/12", "acct/INBOX/7/12/2", "acct/INBOX/7/12/3.1"}; !slices.Equal(got, want) {
		t.Fatalf("under acct/INBOX/7/12: gone %v, want %v", got, want)
	}
	now = t0.Add(time.Hour)
	mark(workspace.Mark{Source: "s", Ref: "share/a.txt", Gone: true}, workspace.Mark{Source: "s", Ref: "acct/INBOX/7/12/2", Gone: true})
	var first time.Time
	c.EachSighting(ctx, func(s workspace.Sighting) error {
		if s.Ref == "acct/INBOX/7/12/2" {
			first = s.Gone
		}
		return nil
	})
	if !first.Equal(t0) {
		t.Errorf("marked gone again: time %v, want the first %v", first, t0)
	}
	mark(workspace.Mark{Source: "s", Ref: "acct/INBOX/7/12/2"}, workspace.Mark{Source: "other", Ref: "share/a.txt"})
	if got, want := goneRefs(t, c), []string{"acct/INBOX/7/12", "acct/INBOX/7/12/3.1", "share/a.txt"}; !slices.Equal(got, want) {
		t.Fatalf("after one came back: gone %v, want %v", got, want)
	}
	if known, gone, err := c.KnownSighting(ctx, "s", "share/a.txt", ""); !known || !gone || err != nil {
		t.Errorf("KnownSighting of a gone copy: known %v gone %v %v", known, gone, err)
	}
	// A batch that marks a ref gone and then stores a new sighting of it
	// (the copy came back with new content) leaves the new one present.
	b := batch(run, "share a, new content", "share/a.txt")
	b.Sightings[0].Fingerprint = "v2"
	b.Marks = []workspace.Mark{{Source: "s", Ref: "share/a.txt", Gone: true}}
	if _, err := c.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if known, gone, _ := c.KnownSighting(ctx, "s", "share/a.txt", "v2"); !known || gone {
		t.Errorf("new sighting after a gone mark: known %v gone %v, want known and present", known, gone)
	}
}
