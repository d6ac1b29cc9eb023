package engine_test

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// meteredSource is a countingSource whose connector counters count a
// request per Open.
type meteredSource struct{ countingSource }

func (m meteredSource) Counters() connectors.SourceCounters {
	return connectors.SourceCounters{Requests: m.e.opens.Load()}
}

// changeAdder adds up the changes an observer hears, per source, and
// keeps the counts each source finished with.
type changeAdder struct {
	mu       sync.Mutex
	changes  map[string]*workspace.Counts
	finished map[string]workspace.Counts
}

func (a *changeAdder) SourceStarted(string, string) {}
func (a *changeAdder) Counted(_, src string, d workspace.Counts) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.changes[src] == nil {
		a.changes[src] = &workspace.Counts{}
	}
	a.changes[src].Add(d)
}
func (a *changeAdder) SourceFinished(_, src string, c workspace.Counts, _ error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finished[src] = c
}

// The changes an observer hears during a run add up to the counts the
// source ends with, connector counters included: an observer that adds
// them up (the metrics) counts everything once. A first run with a
// broken item, a skip and duplicates, then a run that retries the item.
func TestObserverChangesAddUpToTheCounts(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	e.src.Put(memory.File{Path: "Finance/~$lock.docx", Skip: "not-a-document"})
	e.fail["Finance/Budget.csv"] = true
	for run, wantNew := range []int64{3, 1} {
		a := &changeAdder{changes: map[string]*workspace.Counts{}, finished: map[string]workspace.Counts{}}
		eng := &engine.Engine{Catalog: e.cat, Blobs: e.blobs, Observer: a, Open: func(connectors.Config) (connectors.Source, error) {
			return meteredSource{countingSource{e.src, e}}, nil
		}}
		res, err := eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
		if err != nil {
			t.Fatal(err)
		}
		fin, ok := a.finished["drive"]
		if !ok || a.changes["drive"] == nil {
			t.Fatalf("run %d: the observer heard no changes or no end", run)
		}
		if got := *a.changes["drive"]; !reflect.DeepEqual(got, fin) {
			t.Errorf("run %d: changes add up to\n %v\nthe source finished with\n %v", run, got, fin)
		}
		if fin.New != wantNew || fin.Source.Requests != e.opens.Load() {
			t.Errorf("run %d: counts %v, want %d new and %d requests", run, fin, wantNew, e.opens.Load())
		}
		switch run {
		case 0:
			if fin.Problems != 1 || fin.Duplicate != 3 || fin.SkippedBy["not-a-document"] != 1 {
				t.Errorf("first run: counts %v, want 1 problem, 3 duplicates, 1 skipped", fin)
			}
			e.fail = map[string]bool{}
		case 1:
			if fin.Retried != 1 || fin.RetriesResolved != 1 || res.Status != workspace.StatusOK {
				t.Errorf("second run: %s %v, want the broken item retried and stored", res.Status, fin)
			}
		}
	}
}
