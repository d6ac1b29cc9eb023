package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
)

// The "testmem" source type exists only in this package's test binary (and
// in its helper processes, see helperprocess_test.go). Its files are
// generated deterministically from its options, so every process sees the
// same items and cursors.
func init() { registerTestSources() }

var registerOnce sync.Once

// registerTestSources is idempotent: helper processes call it before the
// tests' own init may have run.
func registerTestSources() {
	registerOnce.Do(func() { connectors.Register("testmem", newTestSource) })
}

type testOpts struct {
	Files          int    `yaml:"files"`
	BlockAfter     int    `yaml:"block_after"`      // block after this many items until cancelled
	Broken         int    `yaml:"broken"`           // the first N files fail to open
	Skip           int    `yaml:"skip"`             // the next N files are skipped ("not-a-document")
	Throttled      int64  `yaml:"throttled"`        // reported as source.throttled
	ThrottleWaitMS int64  `yaml:"throttle_wait_ms"` // reported as source.throttle_wait_ms
	PasswordEnv    string `yaml:"password_env"`     // a secret that must never show
}

// gates lets in-process tests learn that a source reached block_after.
var (
	gatesMu sync.Mutex
	gates   = map[string]chan struct{}{}
)

func gateFor(source string) chan struct{} {
	gatesMu.Lock()
	defer gatesMu.Unlock()
	ch, ok := gates[source]
	if !ok {
		ch = make(chan struct{})
		gates[source] = ch
	}
	return ch
}

// resetGate gives source a fresh gate (tests may run more than once).
func resetGate(source string) {
	gatesMu.Lock()
	gates[source] = make(chan struct{})
	gatesMu.Unlock()
}

type testSource struct {
	*memory.Source
	opt    testOpts
	secret string
}

func newTestSource(cfg connectors.Config) (connectors.Source, error) {
	var o testOpts
	if err := cfg.Decode(&o); err != nil {
		return nil, err
	}
	s := &testSource{Source: memory.New(cfg.Name), opt: o}
	if o.PasswordEnv != "" {
		sec, err := connectors.ResolveSecret("password", o.PasswordEnv, "", "")
		if err != nil {
			return nil, err
		}
		s.secret = sec
	}
	s.CheckpointEvery = 3
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range o.Files {
		f := memory.File{Path: fmt.Sprintf("%s/doc-%03d.txt", cfg.Name, i), ModTime: t0.Add(time.Duration(i) * time.Minute),
			Data: []byte(fmt.Sprintf("document %d of %s: %s", i, cfg.Name, strings.Repeat("text ", i)))}
		switch {
		case i < o.Broken:
			f.Path = fmt.Sprintf("%s/broken-%03d.txt", cfg.Name, i)
		case i < o.Broken+o.Skip:
			f.Skip = "not-a-document"
		}
		s.Put(f)
	}
	return s, nil
}

func (s *testSource) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if s.opt.BlockAfter > 0 {
		sink = &blockingSink{Sink: sink, left: s.opt.BlockAfter, reached: gateFor(s.Name())}
	}
	return s.Source.Scan(ctx, cur, sink)
}

func (s *testSource) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if strings.Contains(string(it.Ref), "/broken-") {
		return nil, fmt.Errorf("testmem: open %s: %w", it.Ref, connectors.ErrPermission)
	}
	return s.Source.Open(ctx, it)
}

// Counters implements connectors.Metered.
func (s *testSource) Counters() connectors.SourceCounters {
	return connectors.SourceCounters{Throttled: s.opt.Throttled, ThrottleWaitMS: s.opt.ThrottleWaitMS, Requests: int64(s.opt.Files)}
}

type blockingSink struct {
	connectors.Sink
	left    int
	reached chan struct{}
	once    sync.Once
}

func (b *blockingSink) Item(ctx context.Context, it *connectors.Item) error {
	if b.left == 0 {
		b.once.Do(func() {
			defer func() { _ = recover() }() // closed by an earlier run in this process
			close(b.reached)
		})
		<-ctx.Done()
		return ctx.Err()
	}
	b.left--
	return b.Sink.Item(ctx, it)
}
