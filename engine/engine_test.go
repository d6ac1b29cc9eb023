package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

const cfgText = `
store: {path: ./data}
jobs:
  - name: finance
    workspace: finance
    routes:
      - {match: {path_prefix: "Projects/Alpha"}, workspace: alpha, folder: "Alpha"}
    sources:
      - {name: drive, type: memory}
`

type env struct {
	t     *testing.T
	cfg   *engine.Config
	cat   *workspace.Catalog
	blobs *dedupe.Disk
	src   *memory.Source
	opens atomic.Int64
	fail  map[string]bool
}

// countingSource counts Opens and can fail chosen refs.
type countingSource struct {
	*memory.Source
	e *env
}

func (c countingSource) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	c.e.opens.Add(1)
	if c.e.fail[string(it.Ref)] {
		return nil, fmt.Errorf("memory: open %s: %w", it.Ref, connectors.ErrPermission)
	}
	return c.Source.Open(ctx, it)
}

func (c countingSource) Close() error { return nil }

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	cfg, err := engine.ParseConfig(filepath.Join(dir, "syncd.yaml"), []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "data", "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	blobs, err := dedupe.OpenDisk(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	e := &env{t: t, cfg: cfg, cat: cat, blobs: blobs, src: memory.New("drive"), fail: map[string]bool{}}
	e.src.CheckpointEvery = 3
	return e
}

func (e *env) engine() *engine.Engine {
	return &engine.Engine{Catalog: e.cat, Blobs: e.blobs, Open: func(connectors.Config) (connectors.Source, error) {
		return countingSource{e.src, e}, nil
	}}
}

func (e *env) run(ctx context.Context) (*engine.Result, error) {
	return e.engine().RunJob(ctx, e.cfg.File, &e.cfg.Jobs[0])
}

func seed(src *memory.Source) {
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	files := []struct{ path, data string }{
		{"Finance/Q3 Report v1.txt", "quarter three report draft one with numbers"},
		{"Finance/Archive/Q3 Report v1.txt", "quarter three report draft one with numbers"},
		{"Finance/Q3 Report v2.txt", "quarter three report draft two with more numbers"},
		{"Finance/Copy of Q3 Report v2.txt", "quarter three report draft two with more numbers"},
		{"Projects/Alpha/Plan.txt", "alpha project plan"},
		{"Projects/Alpha/Old/Plan.txt", "alpha project plan"},
		{"Finance/Budget.csv", "a,b\n1,2\n"},
	}
	for i, f := range files {
		src.Put(memory.File{Path: f.path, Data: []byte(f.data), ModTime: t0.Add(time.Duration(i) * time.Hour)})
	}
}

func TestSyncTwiceAndChange(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	ctx := context.Background()
	res, err := e.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Counts.New; got != 4 {
		t.Errorf("first run new=%d, want 4 distinct contents", got)
	}
	if got := res.Counts.Duplicate; got != 3 {
		t.Errorf("first run duplicate=%d, want 3", got)
	}
	if res.Status != workspace.StatusOK {
		t.Errorf("status %s", res.Status)
	}
	st, _ := e.cat.Stats(ctx)
	if st.Blobs != 4 || st.Sightings != 7 {
		t.Errorf("stats %+v, want 4 blobs 7 sightings", st)
	}
	if st.Documents == 0 || st.Versions == 0 {
		t.Errorf("history not rebuilt: %+v", st)
	}
	before := e.opens.Load()
	res, err = e.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.opens.Load() != before || res.Counts.New+res.Counts.Duplicate != 0 {
		t.Errorf("second run opened %d items, counts %v; want nothing", e.opens.Load()-before, res.Counts)
	}
	st2, _ := e.cat.Stats(ctx)
	if st2 != st {
		t.Errorf("second run changed the store: %+v -> %+v", st, st2)
	}
	e.src.Put(memory.File{Path: "Finance/Budget.csv", Data: []byte("a,b\n1,3\n")})
	before = e.opens.Load()
	res, err = e.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.opens.Load() - before; n != 1 || res.Counts.New != 1 {
		t.Errorf("after touching one file: opened %d, counts %v; want exactly that file", n, res.Counts)
	}
	if probs, _ := e.cat.Check(ctx); len(probs) > 0 {
		t.Errorf("catalog check: %v", probs)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	ctx := context.Background()
	if _, err := e.run(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := e.cat.EachSighting(ctx, func(s workspace.Sighting) error {
		got[s.Ref] = s.Workspace + ":" + s.Folder
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["Projects/Alpha/Old/Plan.txt"] != "alpha:Alpha/Old" {
		t.Errorf("routed to %q, want alpha:Alpha/Old", got["Projects/Alpha/Old/Plan.txt"])
	}
	if got["Finance/Budget.csv"] != "finance:Finance" {
		t.Errorf("routed to %q, want finance:Finance", got["Finance/Budget.csv"])
	}
}

func TestBrokenItemDoesNotStopRun(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	e.fail["Finance/Budget.csv"] = true
	res, err := e.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workspace.StatusProblems || res.Counts.Problems != 1 {
		t.Fatalf("status %s counts %v; want problems=1", res.Status, res.Counts)
	}
	if res.Counts.New != 3 {
		t.Errorf("new=%d, want the 3 other contents", res.Counts.New)
	}
	items, _ := e.cat.RunItems(context.Background(), res.RunID)
	var found bool
	for _, it := range items {
		if it.Action == "problem" && it.Ref == "Finance/Budget.csv" && it.Reason == "permission-denied" {
			found = true
		}
	}
	if !found {
		t.Errorf("problem not recorded with item and reason: %+v", items)
	}
}

// snapshot is the store's content as a comparable value.
func snapshot(t *testing.T, cat *workspace.Catalog) []string {
	var out []string
	err := cat.EachSighting(context.Background(), func(s workspace.Sighting) error {
		out = append(out, fmt.Sprintf("%s|%s|%s|%s", s.Source, s.Ref, s.Blob, s.Workspace))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := cat.Documents(context.Background())
	for _, d := range docs {
		for _, v := range d.Versions {
			out = append(out, fmt.Sprintf("doc %s v%d %s parents=%d", d.Key, v.Seq, v.Blob.Short(), len(v.Parents)))
		}
	}
	sort.Strings(out)
	return out
}

// cancelAfter cancels the run after n items were handled.
type cancelAfter struct {
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) SourceStarted(string, string) {}
func (c *cancelAfter) Counted(_, _ string, d workspace.Counts) {
	for range d.Known + d.New + d.Duplicate + d.Skipped + d.Problems {
		if c.n.Add(-1) == 0 {
			c.cancel()
		}
	}
}
func (c *cancelAfter) SourceFinished(string, string, workspace.Counts, error) {}

func TestInterruptedRunResumes(t *testing.T) {
	ref := newEnv(t)
	seed(ref.src)
	if _, err := ref.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ref.cat)
	for stopAt := int64(1); stopAt <= 6; stopAt++ {
		e := newEnv(t)
		seed(e.src)
		ctx, cancel := context.WithCancel(context.Background())
		eng := e.engine()
		eng.Observer = &cancelAfter{cancel: cancel}
		eng.Observer.(*cancelAfter).n.Store(stopAt)
		_, err := eng.RunJob(ctx, e.cfg.File, &e.cfg.Jobs[0])
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("stop at %d: err=%v, want canceled", stopAt, err)
		}
		if _, err := e.run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, e.cat)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stop at %d: resumed store differs\n got %v\nwant %v", stopAt, got, want)
		}
		if probs, _ := e.cat.Check(context.Background()); len(probs) > 0 {
			t.Errorf("stop at %d: check: %v", stopAt, probs)
		}
	}
}

func TestConfigErrorsNameFileLineKey(t *testing.T) {
	cases := map[string]string{
		"jobs:\n  - name: a\n    sources:\n      - {name: s, type: folder}\n    schedul: x\n":             "x.yaml:5: jobs.schedul: unknown key",
		"jobs:\n  - name: a\n    schedule: \"not cron\"\n    sources:\n      - {name: s, type: folder}\n": "x.yaml:2: jobs[0].schedule",
		"jobs:\n  - name: a\n    sources:\n      - {type: folder}\n":                                      "x.yaml:4: jobs[0].sources[0].name: required",
	}
	for text, want := range cases {
		_, err := engine.ParseConfig("x.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: err=%v, want it to contain %q", text, err, want)
		}
	}
}

func TestLockOfDeadProcessIsTakenOver(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	ctx := context.Background()
	host, _ := os.Hostname()
	// pid 1 is alive: its lock must be respected.
	if err := e.cat.Lock(ctx, "job:finance", host+":1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(ctx); !errors.Is(err, workspace.ErrLocked) {
		t.Fatalf("run while a live process holds the job: err=%v, want ErrLocked", err)
	}
	e.cat.Unlock(ctx, "job:finance", host+":1")
	// A pid that does not exist: the lock is stale and taken over.
	dead := host + ":" + fmt.Sprint(1<<22+12345)
	if err := e.cat.Lock(ctx, "job:finance", dead, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(ctx); err != nil {
		t.Fatalf("run after a holder died: %v", err)
	}
}

func TestRoutedFolderShapesDocuments(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs, err := e.cat.Documents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range docs {
		if d.Workspace == "alpha" {
			found = true
			if !strings.HasPrefix(d.Folder, "Alpha") {
				t.Errorf("document %q in workspace alpha has folder %q; the route says Alpha/...", d.Name, d.Folder)
			}
		}
	}
	if !found {
		t.Fatal("no document routed to workspace alpha")
	}
}

func TestMailboxIsNotADocumentFolder(t *testing.T) {
	e := newEnv(t)
	e.src.Put(memory.File{Path: "INBOX/Board paper.txt", Data: []byte("board paper text for the meeting"),
		Lineage: connectors.Lineage{Kind: "mail", MailLineage: connectors.MailLineage{Mailbox: "INBOX",
			MessageID: "<m1@x>"}}})
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs, _ := e.cat.Documents(context.Background())
	if len(docs) != 1 || docs[0].Folder != "" {
		t.Fatalf("documents %+v: a mail attachment's document belongs at the workspace top, not in INBOX", docs)
	}
}

// scopedSource scans under a context of its own that it cancels when its
// scan returns, as a connector's scan workers do, and holds every Open
// until then: fetches must not depend on the context given to Item.
type scopedSource struct {
	countingSource
	gate chan struct{}
}

func (s scopedSource) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	sctx, cancel := context.WithCancel(ctx)
	next, err := s.countingSource.Scan(sctx, cur, sink)
	cancel()
	close(s.gate)
	return next, err
}

func (s scopedSource) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	<-s.gate
	return s.countingSource.Open(ctx, it)
}

func TestFetchesOutliveTheScanContext(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, name := range []string{"a.txt", "b.txt", "c.txt"} { // fewer than the fetch concurrency
		e.src.Put(memory.File{Path: "Docs/" + name, Data: []byte("content of " + name), ModTime: t0.Add(time.Duration(i) * time.Hour)})
	}
	eng := e.engine()
	eng.Open = func(connectors.Config) (connectors.Source, error) {
		return scopedSource{countingSource{e.src, e}, make(chan struct{})}, nil
	}
	res, err := eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workspace.StatusOK || res.Counts.New != 3 || res.Counts.Problems != 0 {
		t.Fatalf("status %s counts %v; want 3 new, no problems", res.Status, res.Counts)
	}
	// And the next run knows all three.
	e.src.CheckpointEvery = 1
	res, err = e.run(context.Background())
	if err != nil || res.Counts.New != 0 || res.Counts.Problems != 0 {
		t.Fatalf("second run: %v %v", err, res.Counts)
	}
}

// A run that finds nothing new writes nothing: not even the cursor it read.
func TestUnchangedRunRewritesNoCursor(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	e.src.CheckpointEvery = 1000
	t1 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.cat.SetClock(func() time.Time { return t1 })
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	updated := func() string {
		var u string
		if err := e.cat.DB().QueryRow(`SELECT updated FROM cursors WHERE source = 'drive'`).Scan(&u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	first := updated()
	e.cat.SetClock(func() time.Time { return t1.Add(time.Hour) })
	res, err := e.run(context.Background())
	if err != nil || res.Counts.New != 0 {
		t.Fatalf("second run: %v %v", err, res.Counts)
	}
	if got := updated(); got != first {
		t.Fatalf("an unchanged run rewrote the cursor (updated %s, was %s)", got, first)
	}
	// A change moves it.
	e.src.Put(memory.File{Path: "Finance/New.txt", Data: []byte("something new")})
	if _, err := e.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := updated(); got == first {
		t.Fatal("the cursor did not move after a change")
	}
}

// gatedSource runs hooks around a memory source's scan.
type gatedSource struct {
	*memory.Source
	before, after func()
}

func (g gatedSource) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if g.before != nil {
		g.before()
	}
	next, err := g.Source.Scan(ctx, cur, sink)
	if g.after != nil {
		g.after()
	}
	return next, err
}

func (g gatedSource) Close() error { return nil }

// sourceEvents closes channels when source a stores something and when
// source b has finished (committed everything).
type sourceEvents struct {
	aStored, bDone chan struct{}
	once1, once2   sync.Once
}

func (s *sourceEvents) SourceStarted(string, string) {}
func (s *sourceEvents) Counted(_, src string, d workspace.Counts) {
	if src == "a" && d.New > 0 {
		s.once1.Do(func() { close(s.aStored) })
	}
}
func (s *sourceEvents) SourceFinished(_, src string, _ workspace.Counts, _ error) {
	if src == "b" {
		s.once2.Do(func() { close(s.bDone) })
	}
}

// Two sources of one job run side by side and hold the same file. The
// content is stored and counted new once; the source that saw it second
// records a duplicate and may commit first (before the blob's own row is
// committed by the other): the catalog stays whole.
func TestParallelSourcesShareContent(t *testing.T) {
	dir := t.TempDir()
	cfg, err := engine.ParseConfig(filepath.Join(dir, "syncd.yaml"), []byte(`
store: {path: ./data}
jobs:
  - name: two
    parallel: 2
    sources:
      - {name: a, type: memory}
      - {name: b, type: memory}
`))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	blobs, err := dedupe.OpenDisk(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	shared := memory.File{Path: "Board paper.txt", Data: []byte("the board paper both drives hold")}
	a, b := memory.New("a"), memory.New("b")
	a.Put(shared)
	b.Put(shared)
	b.Put(memory.File{Path: "Only b.txt", Data: []byte("only in b")})
	ev := &sourceEvents{aStored: make(chan struct{}), bDone: make(chan struct{})}
	eng := &engine.Engine{Catalog: cat, Blobs: blobs, Observer: ev, Open: func(c connectors.Config) (connectors.Source, error) {
		if c.Name == "a" {
			// a commits only after b has finished.
			return gatedSource{Source: a, after: func() { <-ev.bDone }}, nil
		}
		// b scans once a has stored the shared content.
		return gatedSource{Source: b, before: func() { <-ev.aStored }}, nil
	}}
	res, err := eng.RunJob(context.Background(), cfg.File, &cfg.Jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workspace.StatusOK || res.Counts.New != 2 || res.Counts.Duplicate != 1 {
		t.Fatalf("status %s counts %v; want 2 new (the shared file once, b's own), 1 duplicate", res.Status, res.Counts)
	}
	if probs, err := cat.Check(context.Background()); err != nil || len(probs) > 0 {
		t.Fatalf("catalog check: %v %v", probs, err)
	}
	if got := res.Sources[0].Name + " " + res.Sources[1].Name; got != "a b" {
		t.Fatalf("sources reported in order %s, want the config's", got)
	}
}

// failingStore loses one content after Put returned, as a background
// write that fails (disk full) does.
type failingStore struct {
	*dedupe.Disk
	bad   dedupe.ID
	fired atomic.Bool
}

func (f *failingStore) Has(ctx context.Context, id dedupe.ID) (bool, error) {
	if id == f.bad {
		return false, nil
	}
	return f.Disk.Has(ctx, id)
}

func (f *failingStore) Flush(ctx context.Context) error {
	if err := f.Disk.Flush(ctx); err != nil {
		return err
	}
	if f.fired.CompareAndSwap(false, true) {
		return errors.New("write blob: no space left on device")
	}
	return nil
}

// Content whose write fails after Put returned is never committed, nor
// anything naming it, nor the cursor; the next run stores it.
func TestFailedBlobWriteIsNotCommitted(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	bad := dedupe.Sum([]byte("a,b\n1,2\n")) // Finance/Budget.csv
	eng := e.engine()
	eng.Blobs = &failingStore{Disk: e.blobs, bad: bad}
	res, err := eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.Status == workspace.StatusOK || res.Counts.Problems == 0 || res.Counts.New+res.Counts.Duplicate != 6 {
		t.Fatalf("status %s counts %v: want the failed write reported, the 6 other files counted stored", res.Status, res.Counts)
	}
	items, _ := e.cat.RunItems(context.Background(), res.RunID)
	retry := 0
	for _, it := range items {
		if it.Ref == "Finance/Budget.csv" && it.Action == "problem" && it.Reason == "retry-next-run" {
			retry++
		}
	}
	if retry != 1 {
		t.Fatalf("the lost item's run record: %d retry-next-run problems, want 1 (%+v)", retry, items)
	}
	if probs, err := e.cat.Check(context.Background()); err != nil || len(probs) > 0 {
		t.Fatalf("catalog names content the store does not hold: %v %v", probs, err)
	}
	if _, ok, _ := e.cat.BlobByHash(context.Background(), connectors.HashSHA256, bad.String()); ok {
		t.Fatal("the lost blob was committed")
	}
	// The next run, with a healthy store, stores it.
	res, err = e.run(context.Background())
	if err != nil || res.Status != workspace.StatusOK {
		t.Fatalf("next run: %v %s %v", err, res.Status, res.Counts)
	}
	if _, ok, _ := e.cat.BlobByHash(context.Background(), connectors.HashSHA256, bad.String()); !ok {
		t.Fatalf("next run did not store the content: %v", res.Counts)
	}
}

// ExportJSON streams its document; the bytes are those of one json.Encoder
// over the whole export (one-space indent, HTML characters escaped as
// before), names with &, < and > included.
func TestExportJSONIsTheEncodersOutput(t *testing.T) {
	e := newEnv(t)
	seed(e.src)
	e.src.Put(memory.File{Path: "R&D/<Draft> plan.txt", Data: []byte("research and development plan"), ModTime: time.Date(2024, 3, 2, 9, 0, 0, 0, time.UTC)})
	ctx := context.Background()
	if _, err := e.run(ctx); err != nil {
		t.Fatal(err)
	}
	res, sightings, err := engine.LoadHistory(ctx, e.cat)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", " ")
	if err := enc.Encode(history.Export(res, sightings)); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := engine.ExportJSON(ctx, e.cat, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("ExportJSON differs from json.Encoder:\ngot  %.400s\nwant %.400s", got.String(), want.String())
	}
	if !strings.Contains(got.String(), `R\u0026D`) {
		t.Fatalf("the R&D folder is not in the export:\n%.600s", got.String())
	}
}
