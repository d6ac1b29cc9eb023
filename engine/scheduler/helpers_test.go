package scheduler_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/workspace"
)

// every is a fixed-interval schedule finer than cron's one-second @every.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// testParse accepts "@test 20ms" besides every real spec.
func testParse(spec string) (cron.Schedule, error) {
	if d, ok := strings.CutPrefix(spec, "@test "); ok {
		v, err := time.ParseDuration(d)
		if err != nil {
			return nil, err
		}
		return every(v), nil
	}
	return engine.CronParser.Parse(spec)
}

// events collects scheduler events for tests to wait on.
type events struct {
	ch chan scheduler.Event
}

func newEvents() *events { return &events{ch: make(chan scheduler.Event, 1000)} }

func (e *events) on(ev scheduler.Event) { e.ch <- ev }

// wait returns the next event matching ok, failing after timeout.
func (e *events) wait(t *testing.T, what string, ok func(scheduler.Event) bool) scheduler.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ok(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func outcome(job, o string) func(scheduler.Event) bool {
	return func(ev scheduler.Event) bool { return ev.Job == job && ev.Outcome == o }
}

// fakeClock is a settable clock whose After waits are released by the test.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d  time.Duration
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waits: make(chan fakeWait, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- fakeWait{d, ch}
	return ch
}

// store is a real catalog and blob store in a temp dir.
type store struct {
	cat   *workspace.Catalog
	blobs *dedupe.Disk
}

func newStore(t *testing.T) *store {
	t.Helper()
	dir := t.TempDir()
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	blobs, err := dedupe.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	return &store{cat: cat, blobs: blobs}
}

// engine returns an engine whose sources are built by open.
func (s *store) engine(holder string, open func(connectors.Config) (connectors.Source, error)) *engine.Engine {
	return &engine.Engine{Catalog: s.cat, Blobs: s.blobs, Holder: holder, Open: open}
}

var testSpec = regexp.MustCompile(`"@test [^"]+"`)

// config parses text; "@test D" schedules (which the config validator does
// not know) are put back after parsing.
func config(t *testing.T, text string) *engine.Config {
	t.Helper()
	specs := testSpec.FindAllString(text, -1)
	text = testSpec.ReplaceAllString(text, `"@yearly"`)
	cfg, err := engine.ParseConfig(filepath.Join(t.TempDir(), "syncd.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Jobs {
		if cfg.Jobs[i].Schedule == "@yearly" && len(specs) > 0 {
			cfg.Jobs[i].Schedule, specs = strings.Trim(specs[0], `"`), specs[1:]
		}
	}
	return cfg
}

func seeded(name string, n int) *memory.Source {
	src := memory.New(name)
	src.CheckpointEvery = 3
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		src.Put(memory.File{Path: fmt.Sprintf("Docs/file-%02d.txt", i), Data: []byte(fmt.Sprintf("content of file number %d", i)), ModTime: t0.Add(time.Duration(i) * time.Minute)})
	}
	return src
}

// nopSource wraps a memory source so the engine's Close does not matter.
type wrapped struct {
	*memory.Source
	scan func(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error)
}

func (w wrapped) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if w.scan != nil {
		return w.scan(ctx, cur, sink)
	}
	return w.Source.Scan(ctx, cur, sink)
}

// gateSink passes items through until n were passed, then reports reached
// and blocks until ctx is done.
type gateSink struct {
	connectors.Sink
	n       int
	reached chan struct{}
	once    sync.Once
}

func (g *gateSink) Item(ctx context.Context, it *connectors.Item) error {
	if g.n == 0 {
		g.once.Do(func() { close(g.reached) })
		<-ctx.Done()
		return ctx.Err()
	}
	g.n--
	return g.Sink.Item(ctx, it)
}

func countSightings(t *testing.T, cat *workspace.Catalog) int {
	t.Helper()
	n := 0
	if err := cat.EachSighting(context.Background(), func(workspace.Sighting) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
