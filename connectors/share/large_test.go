package share_test

import (
	"context"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/share"
	"github.com/syncd/syncd/connectors/share/sharetest"
)

// orderSink records emitted refs in order and where each checkpoint fell.
type orderSink struct {
	refs        []connectors.Ref
	checkpoints []connectors.Cursor
	at          []int // len(refs) at each checkpoint
}

func (o *orderSink) Item(_ context.Context, it *connectors.Item) error {
	o.refs = append(o.refs, it.Ref)
	return nil
}
func (o *orderSink) Problem(context.Context, connectors.Problem) error { return nil }
func (o *orderSink) Gone(context.Context, connectors.Gone) error       { return nil }
func (o *orderSink) Checkpoint(_ context.Context, c connectors.Cursor) error {
	o.checkpoints = append(o.checkpoints, c)
	o.at = append(o.at, len(o.refs))
	return nil
}

// A checkpoint covers every item emitted before it and no item emitted
// after it: resuming from it lists exactly the rest.
func TestCheckpointsCoverEmittedItems(t *testing.T) {
	dir := t.TempDir()
	sharetest.GenTree(t, dir, 1300, 64)
	s := newSource(t, localYAML(dir)+"checkpoint_every: 500\n")
	first := &orderSink{}
	if _, err := s.Scan(context.Background(), nil, first); err != nil {
		t.Fatal(err)
	}
	if len(first.refs) != 1300 || len(first.checkpoints) != 2 {
		t.Fatalf("emitted %d items, %d checkpoints; want 1300 and 2", len(first.refs), len(first.checkpoints))
	}
	for i, cp := range first.checkpoints {
		resumed := &orderSink{}
		if _, err := s.Scan(context.Background(), cp, resumed); err != nil {
			t.Fatal(err)
		}
		got := map[connectors.Ref]bool{}
		for _, r := range resumed.refs {
			got[r] = true
		}
		for j, r := range first.refs {
			if covered := j < first.at[i]; covered == got[r] {
				t.Fatalf("checkpoint %d (after %d items): item %d %s re-emitted=%v", i, first.at[i], j, r, got[r])
			}
		}
	}
}

// A re-run over an unchanged tree of 10,000 files reads no content.
func TestTenThousandFilesRescanReadsNothing(t *testing.T) {
	dir := t.TempDir()
	sharetest.GenTree(t, dir, 10000, 16)
	s := newSource(t, localYAML(dir))
	start := time.Now()
	rec, cur := connectortest.Scan(t, s, nil)
	full := time.Since(start)
	if len(rec.Items) != 10000 {
		t.Fatalf("full scan: %d items", len(rec.Items))
	}
	// An 8-byte key a file (base64 in JSON) and the gzipped path list.
	if len(cur) > 200_000 {
		t.Errorf("cursor for 10,000 files is %d bytes, want < 200 KB", len(cur))
	}
	if n, err := share.CursorPaths(cur); err != nil || n != 10000 {
		t.Errorf("cursor path list holds %d paths (%v), want 10000", n, err)
	}
	re := newSource(t, localYAML(dir))
	start = time.Now()
	rec, cur2 := connectortest.Scan(t, re, cur)
	rescan := time.Since(start)
	c := re.Counters()
	if len(rec.Items) != 0 || c.Opened != 0 || c.ReceivedBytes != 0 || c.Listed != 10000 || c.Unchanged != 10000 {
		t.Errorf("rescan: %d items, counters %+v; want 0 items, 0 opened, 10000 listed unchanged", len(rec.Items), c)
	}
	if string(cur2) != string(cur) {
		t.Error("rescan of an unchanged tree changed the cursor")
	}
	t.Logf("10,000 files: full scan %v, rescan %v, cursor %d bytes, counters %+v", full, rescan, len(cur), c)
}
