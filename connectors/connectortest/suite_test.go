package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
)

// recT is a tb that keeps failures instead of failing: the tests below run
// the suite with it against deliberately broken sources.
type recT struct {
	outer *testing.T
	name  string
	log   *failures
}

type failures struct {
	mu sync.Mutex
	by map[string][]string // failed (sub)test -> messages
}

func (r *recT) Helper() {}

func (r *recT) Errorf(format string, args ...any) {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	r.log.by[r.name] = append(r.log.by[r.name], fmt.Sprintf(format, args...))
}

func (r *recT) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit() // as testing.T.FailNow: the deferred calls run
}

// run runs f on its own goroutine, as testing.T.Run does, so that Fatalf
// ends only f.
func (r *recT) run(name string, f func(t tb)) bool {
	c := &recT{outer: r.outer, name: path.Join(r.name, name), log: r.log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(c)
	}()
	<-done
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	return len(r.log.by[c.name]) == 0
}

func (r *recT) harness() *testing.T { return r.outer }

// runRecorded runs the suite and returns its failures by subtest.
func runRecorded(t *testing.T, h Harness) map[string][]string {
	top := &recT{outer: t, log: &failures{by: map[string][]string{}}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(top, h)
	}()
	<-done
	return top.log.by
}

const unreadable = "Team/Report v2.docx"

// memoryHarness is the memory source's conformance harness, the source
// passed through wrap.
func memoryHarness(wrap func(*memory.Source) connectors.Source) Harness {
	src := memory.New("mem")
	src.CheckpointEvery = 2
	for i := range 5 {
		src.Put(memory.File{Path: fmt.Sprintf("Team/Report v%d.docx", i), Data: fmt.Appendf(nil, "content %d", i), ModTime: time.Unix(int64(i), 0)})
	}
	s := wrap(src)
	return Harness{
		New: func(*testing.T) connectors.Source { return s },
		Mutate: func(*testing.T) []string {
			src.Put(memory.File{Path: "Team/Report v1.docx", Data: []byte("changed")})
			src.Put(memory.File{Path: "Team/New.txt", Data: []byte("new")})
			return []string{"Report v1.docx", "New.txt"}
		},
		Break: func(*testing.T) Broken {
			src.FailScan(func(p string) error {
				if p == unreadable {
					return connectors.ErrPermission
				}
				return nil
			})
			return Broken{Ref: unreadable, Mentions: "Report v2.docx"}
		},
	}
}

// sinkFuncs is a Sink with some methods replaced.
type sinkFuncs struct {
	connectors.Sink
	item       func(context.Context, *connectors.Item) error
	problem    func(context.Context, connectors.Problem) error
	checkpoint func(context.Context, connectors.Cursor) error
}

func (s sinkFuncs) Item(ctx context.Context, it *connectors.Item) error {
	if s.item != nil {
		return s.item(ctx, it)
	}
	return s.Sink.Item(ctx, it)
}

func (s sinkFuncs) Problem(ctx context.Context, p connectors.Problem) error {
	if s.problem != nil {
		return s.problem(ctx, p)
	}
	return s.Sink.Problem(ctx, p)
}

func (s sinkFuncs) Checkpoint(ctx context.Context, c connectors.Cursor) error {
	if s.checkpoint != nil {
		return s.checkpoint(ctx, c)
	}
	return s.Sink.Checkpoint(ctx, c)
}

// broken is the memory source with one part of the contract broken. Each
// hook, when set, replaces one behaviour.
type broken struct {
	*memory.Source
	// scanSink wraps the sink of a Scan from cur.
	scanSink func(cur connectors.Cursor, sink connectors.Sink) connectors.Sink
	// scanned replaces the cursor a Scan from cur returns.
	scanned func(cur, next connectors.Cursor) connectors.Cursor
	// retrySink wraps the sink of a Retry.
	retrySink func(sink connectors.Sink) connectors.Sink
	// open replaces Open while a scan runs.
	open func(ctx context.Context, it *connectors.Item) (io.ReadCloser, error)

	// parts and scanPart replace Parts and ScanPart.
	parts    func(ctx context.Context) ([]string, error)
	scanPart func(ctx context.Context, part string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error)

	scanning atomic.Int32
}

func (b *broken) Parts(ctx context.Context) ([]string, error) {
	if b.parts != nil {
		return b.parts(ctx)
	}
	return b.Source.Parts(ctx)
}

func (b *broken) ScanPart(ctx context.Context, part string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if b.scanPart != nil {
		return b.scanPart(ctx, part, cur, sink)
	}
	return b.Source.ScanPart(ctx, part, cur, sink)
}

func (b *broken) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	b.scanning.Add(1)
	defer b.scanning.Add(-1)
	if b.scanSink != nil {
		sink = b.scanSink(cur, sink)
	}
	next, err := b.Source.Scan(ctx, cur, sink)
	if err == nil && b.scanned != nil {
		next = b.scanned(cur, next)
	}
	return next, err
}

func (b *broken) Retry(ctx context.Context, refs []connectors.Ref, sink connectors.Sink) error {
	if b.retrySink != nil {
		sink = b.retrySink(sink)
	}
	return b.Source.Retry(ctx, refs, sink)
}

func (b *broken) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if b.open != nil && b.scanning.Load() > 0 {
		return b.open(ctx, it)
	}
	return b.Source.Open(ctx, it)
}

func gen(t *testing.T, c connectors.Cursor) int64 {
	var v struct {
		Gen int64 `json:"gen"`
	}
	if err := json.Unmarshal(c, &v); err != nil {
		t.Fatalf("memory cursor %q: %v", c, err)
	}
	return v.Gen
}

// TestSuitePassesTheMemorySource: the control for the tests below; the
// recorder sees no failure where the contract holds.
func TestSuitePassesTheMemorySource(t *testing.T) {
	h := memoryHarness(func(s *memory.Source) connectors.Source { return s })
	if got := runRecorded(t, h); len(got) != 0 {
		t.Fatalf("the suite failed the memory source: %v", got)
	}
}

// TestSuiteCatchesBrokenSources runs the suite against sources that each
// break one rule of the contract, and requires the check for that rule to
// fail.
func TestSuiteCatchesBrokenSources(t *testing.T) {
	errBusy := errors.New("busy: a scan is running")
	cases := []struct {
		name  string
		check string // the subtest that must fail
		wrap  func(t *testing.T, b *broken)
	}{
		{"checkpoint covers the next item too", "ResumeFromEveryCheckpoint", func(t *testing.T, b *broken) {
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, checkpoint: func(ctx context.Context, c connectors.Cursor) error {
					return sink.Checkpoint(ctx, fmt.Appendf(nil, `{"gen":%d}`, gen(t, c)+1))
				}}
			}
		}},
		{"resumed scan loses its last item", "ResumeFromEveryCheckpoint", func(t *testing.T, b *broken) {
			b.scanSink = func(cur connectors.Cursor, sink connectors.Sink) connectors.Sink {
				if cur == nil {
					return sink
				}
				var held *connectors.Item
				return sinkFuncs{Sink: sink, item: func(ctx context.Context, it *connectors.Item) error {
					prev := held
					held = it
					if prev == nil {
						return nil
					}
					return sink.Item(ctx, prev)
				}}
			}
		}},
		{"resumed scan returns a cursor short of what it reported", "ResumeFromEveryCheckpoint", func(t *testing.T, b *broken) {
			b.scanned = func(cur, next connectors.Cursor) connectors.Cursor {
				if cur != nil {
					return cur
				}
				return next
			}
		}},
		{"Open inside the Item callback fails", "OpenWhileScanning", func(t *testing.T, b *broken) {
			var mu sync.Mutex // held while the sink has an item, as a connector holding its lock
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, item: func(ctx context.Context, it *connectors.Item) error {
					mu.Lock()
					defer mu.Unlock()
					return sink.Item(ctx, it)
				}}
			}
			b.open = func(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
				if !mu.TryLock() {
					return nil, errBusy
				}
				mu.Unlock()
				return b.Source.Open(ctx, it)
			}
		}},
		{"Open during a scan returns other bytes", "OpenWhileScanning", func(t *testing.T, b *broken) {
			b.open = func(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
				rc, err := b.Source.Open(ctx, it)
				if err != nil {
					return nil, err
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				return io.NopCloser(bytes.NewReader(data[:len(data)-1])), err
			}
		}},
		{"a folder is in no part", "Parts", func(t *testing.T, b *broken) {
			b.parts = func(context.Context) ([]string, error) { return []string{"Elsewhere"}, nil }
		}},
		{"a part scans the whole source", "Parts", func(t *testing.T, b *broken) {
			b.scanPart = func(ctx context.Context, _ string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
				return b.Source.Scan(ctx, cur, sink)
			}
		}},
		{"a part's cursor covers nothing", "Parts", func(t *testing.T, b *broken) {
			b.scanPart = func(ctx context.Context, part string, _ connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
				return b.Source.ScanPart(ctx, part, nil, sink)
			}
		}},
		{"a problem stops the scan", "ProblemAndScanGoesOn", func(t *testing.T, b *broken) {
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, problem: func(ctx context.Context, p connectors.Problem) error {
					_ = sink.Problem(ctx, p)
					return p.Err
				}}
			}
		}},
		{"an unreadable item is passed over in silence", "ProblemAndScanGoesOn", func(t *testing.T, b *broken) {
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, problem: func(context.Context, connectors.Problem) error { return nil }}
			}
		}},
		{"the problem has no Ref", "ProblemAndScanGoesOn", func(t *testing.T, b *broken) {
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, problem: func(ctx context.Context, p connectors.Problem) error {
					p.Ref = ""
					return sink.Problem(ctx, p)
				}}
			}
		}},
		{"the problem has no Name", "ProblemAndScanGoesOn", func(t *testing.T, b *broken) {
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, problem: func(ctx context.Context, p connectors.Problem) error {
					p.Name = ""
					return sink.Problem(ctx, p)
				}}
			}
		}},
		{"the problem does not say which item", "ProblemAndScanGoesOn", func(t *testing.T, b *broken) {
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, problem: func(ctx context.Context, p connectors.Problem) error {
					p.Name, p.Err = "an item", errors.New("permission denied")
					return sink.Problem(ctx, p)
				}}
			}
		}},
		{"items after a problem are lost", "ProblemAndScanGoesOn", func(t *testing.T, b *broken) {
			b.scanSink = func(_ connectors.Cursor, sink connectors.Sink) connectors.Sink {
				lost := false
				return sinkFuncs{Sink: sink,
					problem: func(ctx context.Context, p connectors.Problem) error {
						lost = true
						return sink.Problem(ctx, p)
					},
					item: func(ctx context.Context, it *connectors.Item) error {
						if lost {
							return nil
						}
						return sink.Item(ctx, it)
					}}
			}
		}},
		{"Retry passes over an unreadable ref in silence", "ProblemAndScanGoesOn", func(t *testing.T, b *broken) {
			b.retrySink = func(sink connectors.Sink) connectors.Sink {
				return sinkFuncs{Sink: sink, problem: func(ctx context.Context, p connectors.Problem) error {
					if !errors.Is(p.Err, connectors.ErrNotFound) {
						return nil
					}
					return sink.Problem(ctx, p)
				}}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := memoryHarness(func(s *memory.Source) connectors.Source {
				b := &broken{Source: s}
				c.wrap(t, b)
				return b
			})
			got := runRecorded(t, h)
			if len(got[c.check]) == 0 {
				t.Errorf("%s did not fail (failures: %v)", c.check, names(got))
			}
			for name, msgs := range got {
				t.Logf("%s: %s", name, strings.Join(msgs, "; "))
			}
		})
	}
}

func names(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		ref, parent connectors.Ref
		want        bool
	}{
		{"a/b.docx", "a/b.docx", true},
		{"acct/INBOX/7/42/2", "acct/INBOX/7/42", true},
		{"acct/INBOX/7/421/2", "acct/INBOX/7/42", false},
		{"HR/Policies/x.docx", "HR/", true},
		{"HRx/y.docx", "HR/", false},
		{"a/b.docx.bak", "a/b.docx", false},
	} {
		if got := Within(c.ref, c.parent); got != c.want {
			t.Errorf("Within(%q, %q) = %v, want %v", c.ref, c.parent, got, c.want)
		}
	}
}
