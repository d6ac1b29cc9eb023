package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// heldSource is a memory source that, after its first n items, waits for
// release before reporting the next: a run held mid-way for as long as a
// test likes. It counts a request per file opened (connectors.Metered).
type heldSource struct {
	*memory.Source
	n        int
	held     chan struct{} // closed when the scan waits
	release  chan struct{}
	requests atomic.Int64
}

func (s *heldSource) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	return s.Source.Scan(ctx, cur, &holdSink{Sink: sink, s: s})
}

func (s *heldSource) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	s.requests.Add(1)
	return s.Source.Open(ctx, it)
}

func (s *heldSource) Counters() connectors.SourceCounters {
	return connectors.SourceCounters{Requests: s.requests.Load()}
}

type holdSink struct {
	connectors.Sink
	s    *heldSource
	seen int
}

func (h *holdSink) Item(ctx context.Context, it *connectors.Item) error {
	if h.seen == h.s.n {
		close(h.s.held)
		select {
		case <-h.s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.seen++
	return h.Sink.Item(ctx, it)
}

// storedAfter passes what it hears on to the metrics, and closes done
// once the metrics have heard of want items stored (new or duplicate).
type storedAfter struct {
	*metrics
	mu     sync.Mutex
	stored int64
	want   int64
	done   chan struct{}
}

func (s *storedAfter) Counted(job, source string, d workspace.Counts) {
	s.metrics.Counted(job, source, d)
	s.mu.Lock()
	defer s.mu.Unlock()
	for range d.New + d.Duplicate {
		if s.stored++; s.stored == s.want {
			close(s.done)
		}
	}
}

// waitFor fails the test if ch is not closed in a minute (a hang guard,
// not a timing assertion: everything it waits for happens in memory).
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("%s never happened", what)
	}
}

func gather(t *testing.T, m *metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// TestMetricsMoveDuringARun holds a run after its first five items and
// reads the metrics: the per-source counters already show those items
// (bytes, dedupe hits, skips, the connector's requests), not zero until
// the source ends. After the run they show every item once, equal to the
// run's own counts: nothing the metrics heard during the run is added
// again at its end.
func TestMetricsMoveDuringARun(t *testing.T) {
	const total, first = 12, 5
	src := &heldSource{Source: memory.New("held"), n: first, held: make(chan struct{}), release: make(chan struct{})}
	const size = int64(len("document 00"))
	for i := range total {
		f := memory.File{Path: fmt.Sprintf("docs/doc-%02d.txt", i), Data: fmt.Appendf(nil, "document %02d", i)}
		switch i {
		case 1:
			f.Data = []byte("document 00") // a copy of doc-00: a dedupe hit
		case 2:
			f.Skip = "not-a-document"
		}
		src.Put(f)
	}
	dir := t.TempDir()
	cfg, err := engine.ParseConfig(filepath.Join(dir, "syncd.yaml"), []byte("store: {path: ./data}\njobs:\n  - name: mig\n    sources:\n      - {name: held, type: testmem}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	m := newMetrics()
	obs := &storedAfter{metrics: m, want: first - 1, done: make(chan struct{})} // the skipped one is not stored
	eng := &engine.Engine{Catalog: cat, Blobs: dedupe.NewMem(), Observer: obs,
		Open: func(connectors.Config) (connectors.Source, error) { return src, nil }}

	var res *engine.Result
	var runErr error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		res, runErr = eng.RunJob(context.Background(), cfg.File, &cfg.Jobs[0])
	}()
	waitFor(t, src.held, "the scan waiting after the first items")
	waitFor(t, obs.done, "the first items stored")
	select {
	case <-finished:
		t.Fatal("the run ended while its source was held")
	default:
	}

	lbl := []string{"job", "mig", "source", "held"}
	type want struct {
		name   string
		labels []string
		value  float64
	}
	check := func(when string, fams map[string]*dto.MetricFamily, wants []want) {
		t.Helper()
		for _, w := range wants {
			if got, _ := metric(fams, w.name, append(append([]string{}, lbl...), w.labels...)...); got != w.value {
				t.Errorf("%s: %s%v = %v, want %v", when, w.name, w.labels, got, w.value)
			}
		}
	}
	// Items 0-4: new, duplicate of 0, skipped, new, new.
	check("mid-run", gather(t, m), []want{
		{"syncd_items_total", []string{"action", "scanned"}, first},
		{"syncd_items_total", []string{"action", "new"}, 3},
		{"syncd_items_total", []string{"action", "duplicate"}, 1},
		{"syncd_items_skipped_total", []string{"reason", "not-a-document"}, 1},
		{"syncd_items_fetched_total", nil, 4},
		{"syncd_fetched_bytes_total", nil, float64(4 * size)},
		{"syncd_item_bytes_total", []string{"action", "new"}, float64(3 * size)},
		{"syncd_dedupe_hits_total", []string{"by", "content"}, 1},
		{"syncd_dedupe_saved_bytes_total", nil, float64(size)},
		{"syncd_source_requests_total", nil, 4},
	})

	close(src.release)
	<-finished
	if runErr != nil || res.Status != workspace.StatusOK {
		t.Fatalf("run: %v, status %v", runErr, res)
	}
	c := res.Counts
	if c.Scanned != total || c.New != total-2 || c.Duplicate != 1 || c.Fetched != total-1 || c.Source.Requests != total-1 {
		t.Fatalf("run counts %v", c)
	}
	fams := gather(t, m)
	check("after the run", fams, []want{
		{"syncd_items_total", []string{"action", "scanned"}, float64(c.Scanned)},
		{"syncd_items_total", []string{"action", "new"}, float64(c.New)},
		{"syncd_items_total", []string{"action", "duplicate"}, float64(c.Duplicate)},
		{"syncd_items_skipped_total", []string{"reason", "not-a-document"}, float64(c.SkippedBy["not-a-document"])},
		{"syncd_items_fetched_total", nil, float64(c.Fetched)},
		{"syncd_fetched_bytes_total", nil, float64(c.BytesFetched)},
		{"syncd_item_bytes_total", []string{"action", "new"}, float64(c.BytesNew)},
		{"syncd_dedupe_hits_total", []string{"by", "content"}, float64(c.Duplicate)},
		{"syncd_dedupe_saved_bytes_total", nil, float64(c.BytesSaved)},
		{"syncd_source_requests_total", nil, float64(c.Source.Requests)},
	})
	for _, name := range []string{"syncd_item_problems_total", "syncd_source_failures_total"} {
		if v, ok := metric(fams, name, lbl...); ok {
			t.Errorf("%s = %v: the run had no problems", name, v)
		}
	}
	if _, ok := metric(fams, "syncd_source_last_success_timestamp_seconds", lbl...); !ok {
		t.Error("the source's success was not recorded")
	}
}
