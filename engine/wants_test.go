package engine_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
)

// askingSource asks the engine, before reporting each item, whether it
// wants it (as the IMAP connector does before fetching small parts with
// their batch), and records the answers by path. fresh scans from the
// start whatever the cursor says.
type askingSource struct {
	countingSource
	fresh   bool
	answers map[string]bool
}

func (s askingSource) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if s.fresh {
		cur = nil
	}
	return s.countingSource.Scan(ctx, cur, askFirst{Sink: sink, answers: s.answers})
}

type askFirst struct {
	connectors.Sink
	answers map[string]bool
}

func (a askFirst) Item(ctx context.Context, it *connectors.Item) error {
	w, ok := a.Sink.(connectors.Wanter)
	if !ok {
		return nil // not recorded: the test fails on the missing answers
	}
	want, err := w.Wants(ctx, it)
	if err != nil {
		return err
	}
	a.answers[it.Path+"/"+it.Name] = want
	return a.Sink.Item(ctx, it)
}

// The engine says it wants exactly the items it then downloads: not a
// skipped item, not one over the job's size limit, not a copy it already
// holds; a new item is wanted.
func TestEngineWantsWhatItDownloads(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	e.src.Put(memory.File{Path: "Docs/a.txt", Data: []byte("alpha"), ModTime: t0})
	e.src.Put(memory.File{Path: "Docs/b.txt", Data: []byte("bravo"), ModTime: t0})
	e.src.Put(memory.File{Path: "Docs/logo.png", Data: []byte("logo"), ModTime: t0, Skip: "signature-logo"})
	e.src.Put(memory.File{Path: "Docs/huge.bin", Data: make([]byte, 4096), ModTime: t0})
	e.cfg.Jobs[0].MaxSize = 1024
	run := func(fresh bool) map[string]bool {
		answers := map[string]bool{}
		eng := e.engine()
		eng.Open = func(connectors.Config) (connectors.Source, error) {
			return askingSource{countingSource{e.src, e}, fresh, answers}, nil
		}
		before := e.opens.Load()
		if _, err := eng.RunJob(context.Background(), e.cfg.File, &e.cfg.Jobs[0]); err != nil {
			t.Fatal(err)
		}
		wanted := 0
		for _, w := range answers {
			if w {
				wanted++
			}
		}
		if opened := e.opens.Load() - before; opened != int64(wanted) {
			t.Errorf("the engine wanted %d items and opened %d: %v", wanted, opened, answers)
		}
		return answers
	}
	got := run(false)
	want := map[string]bool{"Docs/a.txt": true, "Docs/b.txt": true, "Docs/logo.png": false, "Docs/huge.bin": false}
	if !maps.Equal(got, want) {
		t.Errorf("first run: wants %v, want %v", got, want)
	}
	// Scanned again from the start: every item is a copy the store holds.
	got = run(true)
	want = map[string]bool{"Docs/a.txt": false, "Docs/b.txt": false, "Docs/logo.png": false, "Docs/huge.bin": false}
	if !maps.Equal(got, want) {
		t.Errorf("second run: wants %v, want %v", got, want)
	}
	// A new file is wanted; the others still are not.
	e.src.Put(memory.File{Path: "Docs/c.txt", Data: []byte("charlie"), ModTime: t0})
	got = run(true)
	want["Docs/c.txt"] = true
	if !maps.Equal(got, want) {
		t.Errorf("third run: wants %v, want %v", got, want)
	}
}
