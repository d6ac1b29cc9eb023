package sharepoint

import (
	"context"
	"fmt"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

type cpSink struct {
	*connectortest.Recorder
	onCheckpoint func(connectors.Cursor)
}

func (c *cpSink) Checkpoint(ctx context.Context, cur connectors.Cursor) error {
	c.onCheckpoint(append(connectors.Cursor(nil), cur...))
	return c.Recorder.Checkpoint(ctx, cur)
}

// scanCommitted scans from cur and returns what the engine keeps: the
// items covered by the last checkpoint (or the returned cursor), that
// cursor, the problems and the scan's error.
func scanCommitted(s connectors.Source, cur connectors.Cursor) ([]*connectors.Item, connectors.Cursor, []connectors.Problem, error) {
	rec := &connectortest.Recorder{}
	covered := 0
	next, err := s.Scan(context.Background(), cur, &cpSink{Recorder: rec, onCheckpoint: func(c connectors.Cursor) {
		covered, cur = len(rec.Items), c
	}})
	if err == nil {
		covered, cur = len(rec.Items), next
	}
	return rec.Items[:covered], cur, rec.Problems, err
}

// TestGraphOutageLosesNothing: Graph answers 503 to every request after
// the k-th (for several k) until the scan gives up; then it recovers and
// the source is synced as the engine does: a scan from the last
// checkpointed cursor, then Retry of the problems' refs. Every version of
// an undisturbed scan is committed exactly once, and the outage shows as a
// Retryable error, never as a problem of its own.
func TestGraphOutageLosesNothing(t *testing.T) {
	const opts = "concurrency: 1\nmax_retries: 1\n" // one request at a time: the k-th is always the same
	clean := newFake(t)
	clean.PageSize = 2
	want := map[connectors.Ref]*connectors.Item{}
	items, _, _, err := scanCommitted(newSource(t, clean, opts), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		want[it.Ref] = it
	}
	requests := clean.Count(graphfake.RouteAny)
	for _, k := range []int{1, requests / 3, requests / 2, 2 * requests / 3, requests - 1} {
		t.Run(fmt.Sprintf("after-request-%d-of-%d", k, requests), func(t *testing.T) {
			f := newFake(t)
			f.PageSize = 2
			f.Inject(graphfake.Rule{Route: graphfake.RouteAny, After: k, Times: 1 << 20, Fault: graphfake.Fault{Status: 503, RetryAfter: "0"}})
			first, cur, problems, err := scanCommitted(newSource(t, f, opts), nil)
			if err == nil || !connectors.IsRetryable(err) {
				t.Errorf("scan during the outage: err %v, want a Retryable error", err)
			}
			f.ClearFaults()
			var retry []connectors.Ref
			for _, p := range problems {
				if !connectors.IsRetryable(p.Err) {
					t.Errorf("the outage was reported as a non-retryable problem: %v", p)
				}
				if p.Ref != "" {
					retry = append(retry, p.Ref)
				}
			}
			s2 := newSource(t, f, opts)
			second, _, _, err := scanCommitted(s2, cur)
			if err != nil {
				t.Fatal(err)
			}
			rec := &connectortest.Recorder{}
			if len(retry) > 0 {
				if err := s2.Retry(context.Background(), retry, rec); err != nil {
					t.Fatal(err)
				}
			}
			got := map[connectors.Ref]int{}
			for _, list := range [][]*connectors.Item{first, second, rec.Items} {
				for _, it := range list {
					got[it.Ref]++
					if w := want[it.Ref]; w == nil {
						t.Errorf("item %s is not in an undisturbed scan", it.Ref)
					} else if d := connectortest.SameItem(w, it); d != "" {
						t.Errorf("item %s: %s", it.Ref, d)
					}
				}
			}
			lost, twice := 0, 0
			for r := range want {
				switch got[r] {
				case 0:
					lost++
					t.Errorf("lost: %s", r)
				case 1:
				default:
					twice++
					t.Errorf("committed %d times: %s", got[r], r)
				}
			}
			t.Logf("503 after request %d: %d committed before, %d by the next scan, %d retried; %d lost, %d twice",
				k, len(first), len(second), len(rec.Items), lost, twice)
		})
	}
}
