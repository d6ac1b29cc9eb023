package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// partitioned rewrites the env's config so that its source is
// partitioned: one unit per top-level folder; serial: one unit at a time
// per process (parallel: 1).
func partitioned(t *testing.T, e *env, serial bool) {
	t.Helper()
	text := strings.Replace(cfgText, "{name: drive, type: memory}", "{name: drive, type: memory, partition: true}", 1)
	if serial {
		text = strings.Replace(text, "    workspace: finance\n", "    workspace: finance\n    parallel: 1\n", 1)
	}
	cfg, err := engine.ParseConfig(filepath.Join(t.TempDir(), "syncd.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Jobs[0].Sources[0].Partition {
		t.Fatal("partition: true was not read")
	}
	e.cfg = cfg
}

func unitNames(t *testing.T, cat *workspace.Catalog, run int64) []string {
	t.Helper()
	us, err := cat.Units(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range us {
		if u.State != workspace.UnitDone {
			t.Errorf("unit %s of run %d is %s", u.Name, run, u.State)
		}
		out = append(out, u.Name)
	}
	return out
}

// TestPartitionedSource: a partitioned source is run as one unit per
// part (here, top-level folder), each with a cursor of its own, and
// stores exactly what the same source run whole stores; a re-run opens
// nothing; a part that disappears is reported gone once and its cursor
// dropped.
func TestPartitionedSource(t *testing.T) {
	ctx := context.Background()
	whole, e := newEnv(t), newEnv(t)
	partitioned(t, e, false)
	for _, env := range []*env{whole, e} {
		seed(env.src)
		env.src.Put(memory.File{Path: "Read me.txt", Data: []byte("at the top of the drive")})
	}
	if _, err := whole.run(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := e.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workspace.StatusOK || len(res.Sources) != 1 || res.Sources[0].Name != "drive" {
		t.Fatalf("run: status %s, sources %+v", res.Status, res.Sources)
	}
	if want := []string{"drive", "drive/.", "drive/Finance", "drive/Projects"}; !slices.Equal(unitNames(t, e.cat, res.RunID), want) {
		t.Errorf("units %q, want %q", unitNames(t, e.cat, res.RunID), want)
	}
	if parts, err := e.cat.PartCursors(ctx, "drive"); !slices.Equal(parts, []string{".", "Finance", "Projects"}) || err != nil {
		t.Errorf("part cursors %q %v", parts, err)
	}
	if cur, _ := e.cat.Cursor(ctx, "drive"); cur != nil {
		t.Errorf("the partitioned source kept a cursor of its own: %s", cur)
	}
	if got, want := snapshot(t, e.cat), snapshot(t, whole.cat); !slices.Equal(got, want) {
		t.Errorf("partitioned store\n%s\nwant (run whole)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	n := e.opens.Load()
	if res.Counts.New != 5 || res.Counts.Duplicate != 3 || n != 8 {
		t.Errorf("first run: counts %+v, %d opens; want 5 new, 3 duplicates, 8 opens", res.Counts, n)
	}

	res, err = e.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.opens.Load() != n || res.Counts.New+res.Counts.Duplicate != 0 || res.Counts.Known != 0 {
		t.Errorf("unchanged re-run: %d opens, counts %+v; want nothing listed again", e.opens.Load()-n, res.Counts)
	}

	e.src.Remove("Projects/Alpha/Plan.txt")
	e.src.Remove("Projects/Alpha/Old/Plan.txt")
	res, err = e.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Gone != 2 {
		t.Errorf("after the Projects folder went: gone %d, want 2", res.Counts.Gone)
	}
	if want := []string{"drive", "drive/.", "drive/Finance"}; !slices.Equal(unitNames(t, e.cat, res.RunID), want) {
		t.Errorf("units %q, want %q", unitNames(t, e.cat, res.RunID), want)
	}
	if parts, err := e.cat.PartCursors(ctx, "drive"); !slices.Equal(parts, []string{".", "Finance"}) || err != nil {
		t.Errorf("part cursors after Projects went: %q %v", parts, err)
	}
	res, err = e.run(ctx)
	if err != nil || res.Counts.Gone != 0 {
		t.Errorf("the run after: gone %d, err %v; want nothing reported again", res.Counts.Gone, err)
	}
}

// TestPartitionedSourceName: a partitioned source's parts are keyed
// name/part, so its name may not hold a "/" and no other source may be
// named under it.
func TestPartitionedSourceName(t *testing.T) {
	for _, tc := range []struct{ sources, want string }{
		{`[{name: "a/b", type: memory, partition: true}]`, "may not contain '/'"},
		{`[{name: a, type: memory, partition: true}, {name: "a/INBOX", type: memory}]`, "would share cursors with the parts of partitioned source"},
	} {
		text := "store: {path: ./data}\njobs:\n  - name: j\n    workspace: w\n    sources: " + tc.sources + "\n"
		_, err := engine.ParseConfig(filepath.Join(t.TempDir(), "syncd.yaml"), []byte(text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.sources, err, tc.want)
		}
	}
	text := "store: {path: ./data}\njobs:\n  - name: j\n    workspace: w\n    sources: [{name: a, type: memory}, {name: \"a/INBOX\", type: memory}]\n"
	if _, err := engine.ParseConfig(filepath.Join(t.TempDir(), "syncd.yaml"), []byte(text)); err != nil {
		t.Errorf("unpartitioned sources a and a/INBOX: %v", err)
	}
}

// outcome is what RunJob returned.
type outcome struct {
	res *engine.Result
	err error
}

// runAsync runs the env's job with eng and hands over what it returned.
func runAsync(ctx context.Context, eng *engine.Engine, e *env) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := eng.RunJob(ctx, e.cfg.File, &e.cfg.Jobs[0])
		ch <- outcome{res, err}
	}()
	return ch
}

// gatedPart holds the scan of one part until released.
type gatedPart struct {
	countingSource
	part    string
	entered chan struct{}
	release chan struct{}
}

func (g gatedPart) ScanPart(ctx context.Context, part string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if part == g.part {
		close(g.entered)
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.countingSource.ScanPart(ctx, part, cur, sink)
}

// TestPartsShareOneSourceAcrossWorkers: one partitioned source is shared
// by two processes. The run's holder (one unit at a time) splits it and
// is held inside its first part; a second process joins the run and
// runs every other part; the holder's result then counts the whole
// source, names the other worker, and the store equals a run of the
// source whole.
func TestPartsShareOneSourceAcrossWorkers(t *testing.T) {
	ctx := context.Background()
	whole, e := newEnv(t), newEnv(t)
	partitioned(t, e, true)
	for _, env := range []*env{whole, e} {
		for _, team := range []string{"A", "B", "C", "D"} {
			for i := range 5 {
				env.src.Put(memory.File{Path: fmt.Sprintf("%s/Plan %d.txt", team, i), Data: []byte(fmt.Sprintf("plan %d of team %s", i, team))})
			}
		}
	}
	wres, err := whole.run(ctx)
	if err != nil {
		t.Fatal(err)
	}

	gate := gatedPart{countingSource: countingSource{e.src, e}, part: "A", entered: make(chan struct{}), release: make(chan struct{})}
	holder := &engine.Engine{Catalog: e.cat, Blobs: e.blobs, Holder: "worker-1", Open: func(connectors.Config) (connectors.Source, error) { return gate, nil }}
	done := runAsync(ctx, holder, e)
	<-gate.entered // split into parts, and inside part A

	cat2, err := workspace.Open(ctx, e.cat.Path(), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat2.Close()
	helper := &engine.Engine{Catalog: cat2, Blobs: e.blobs, Holder: "worker-2", Join: true, Open: func(connectors.Config) (connectors.Source, error) {
		return countingSource{e.src, e}, nil
	}}
	jres, err := helper.RunJob(ctx, e.cfg.File, &e.cfg.Jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	close(gate.release)
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	res := out.res

	if jres.Joined != "worker-1" || len(jres.Sources) != 1 || jres.Sources[0].Counts.New != 15 {
		t.Errorf("helper: joined %q, sources %+v; want the three parts B, C, D (15 new) of worker-1's run", jres.Joined, jres.Sources)
	}
	us, err := e.cat.Units(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range us {
		got = append(got, u.Name+" "+u.State+" "+u.Holder)
	}
	want := []string{"drive done worker-1", "drive/A done worker-1", "drive/B done worker-2", "drive/C done worker-2", "drive/D done worker-2"}
	if !slices.Equal(got, want) {
		t.Errorf("units\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Status != workspace.StatusOK || len(res.Sources) != 1 || res.Sources[0].Worker != "worker-2" ||
		res.Counts.New != wres.Counts.New || res.Counts.Duplicate != wres.Counts.Duplicate {
		t.Errorf("holder: status %s, sources %+v, counts %+v; want the whole source's counts %+v, helped by worker-2", res.Status, res.Sources, res.Counts, wres.Counts)
	}
	if got, want := snapshot(t, e.cat), snapshot(t, whole.cat); !slices.Equal(got, want) {
		t.Errorf("store shared by two workers\n%s\nwant (one process, whole)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// gatedSplit holds the listing of parts, and every part's scan, until
// released.
type gatedSplit struct {
	countingSource
	listing, parts chan struct{}
	listed         chan struct{}
}

func (g gatedSplit) Parts(ctx context.Context) ([]string, error) {
	close(g.listing)
	<-g.listed
	return g.countingSource.Parts(ctx)
}

func (g gatedSplit) ScanPart(ctx context.Context, part string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	select {
	case <-g.parts:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.countingSource.ScanPart(ctx, part, cur, sink)
}

// msgSignal closes ch the first time a record with message msg is
// handled.
type msgSignal struct {
	slog.Handler
	msg  string
	once *sync.Once
	ch   chan struct{}
}

func (h msgSignal) Enabled(context.Context, slog.Level) bool { return true }

func (h msgSignal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

func (h msgSignal) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h msgSignal) WithGroup(string) slog.Handler      { return h }

// A process that joins a run while a partitioned source is being split
// waits for its parts instead of leaving with nothing to do, and then
// takes the parts the holder (held in its first part) has not.
func TestJoinerWaitsForTheSplit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	partitioned(t, e, true)
	for _, team := range []string{"A", "B", "C"} {
		for i := range 3 {
			e.src.Put(memory.File{Path: fmt.Sprintf("%s/Plan %d.txt", team, i), Data: []byte(fmt.Sprintf("plan %d of team %s", i, team))})
		}
	}
	gate := gatedSplit{countingSource: countingSource{e.src, e}, listing: make(chan struct{}), listed: make(chan struct{}), parts: make(chan struct{})}
	holder := &engine.Engine{Catalog: e.cat, Blobs: e.blobs, Holder: "worker-1", Open: func(connectors.Config) (connectors.Source, error) { return gate, nil }}
	done := runAsync(ctx, holder, e)
	<-gate.listing // the holder is splitting the source

	waiting := make(chan struct{})
	helper := &engine.Engine{Catalog: e.cat, Blobs: e.blobs, Holder: "worker-2", Join: true,
		Log:  slog.New(msgSignal{msg: "waiting for a source being split into parts", once: new(sync.Once), ch: waiting}),
		Open: func(connectors.Config) (connectors.Source, error) { return countingSource{e.src, e}, nil }}
	joined := runAsync(ctx, helper, e)
	select {
	case <-waiting:
	case o := <-joined:
		t.Fatalf("the helper left while the source was being split: %+v %v", o.res, o.err)
	}
	close(gate.listed) // the parts are added; the holder takes one and is held in it
	o := <-joined
	if o.err != nil {
		t.Fatal(o.err)
	}
	close(gate.parts)
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	res := out.res
	// The helper takes every part the holder has not claimed first: two,
	// or all three if it woke first.
	if len(o.res.Sources) != 1 || (o.res.Sources[0].Counts.New != 6 && o.res.Sources[0].Counts.New != 9) {
		t.Errorf("helper: %+v; want the parts the holder did not take (3 new each)", o.res.Sources)
	}
	if res.Counts.New != 9 || res.Status != workspace.StatusOK {
		t.Errorf("holder: %s %+v; want the whole source's 9 new", res.Status, res.Counts)
	}
}
