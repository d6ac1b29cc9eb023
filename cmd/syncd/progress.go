package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// Progress modes for `syncd sync --progress`.
const (
	progressAuto = "auto" // bars on a terminal, log lines otherwise
	progressBar  = "bar"
	progressLog  = "log"
	progressNone = "none"
)

// progress shows a run as it happens. It is an engine.Observer.
type progress interface {
	engine.Observer
	// LogWriter is where log lines go while progress is shown (above the
	// bars on a terminal).
	LogWriter() io.Writer
	// Bars reports whether a live display owns the terminal.
	Bars() bool
	SetLogger(*slog.Logger)
	// Stop ends the display; later log lines go straight to the output.
	Stop()
}

// newProgress builds the display for mode writing to w.
func newProgress(mode string, w io.Writer, every time.Duration) (progress, error) {
	if mode == progressAuto {
		mode = progressLog
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = progressBar
		}
	}
	switch mode {
	case progressBar:
		return newBarProgress(w), nil
	case progressLog:
		return newLogProgress(w, every), nil
	case progressNone:
		return nopProgress{w}, nil
	}
	return nil, fmt.Errorf("--progress %q: want auto, bar, log or none", mode)
}

// srcStats are one source's live counts.
type srcStats struct {
	job, source                         string
	start                               time.Time
	scanned, known, fresh, dup, skipped atomic.Int64
	problems, bytes                     atomic.Int64
	done, failed                        atomic.Bool
	end                                 atomic.Int64 // unix nanos when finished
}

func (s *srcStats) add(d workspace.Counts) {
	s.scanned.Add(d.Scanned)
	s.known.Add(d.Known)
	s.fresh.Add(d.New)
	s.dup.Add(d.Duplicate)
	s.skipped.Add(d.Skipped)
	s.problems.Add(d.Problems)
	s.bytes.Add(d.BytesNew + d.BytesSaved)
}

// rate is bytes per second since the source started.
func (s *srcStats) rate() float64 {
	end := time.Now()
	if n := s.end.Load(); n != 0 {
		end = time.Unix(0, n)
	}
	el := end.Sub(s.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(s.bytes.Load()) / el
}

func (s *srcStats) finish(err error) {
	s.end.Store(time.Now().UnixNano())
	s.failed.Store(err != nil)
	s.done.Store(true)
}

func (s *srcStats) line() string {
	state := ""
	switch {
	case s.failed.Load():
		state = "failed: "
	case s.done.Load():
		state = "done: "
	}
	return state + fmt.Sprintf("%d items  %d new  %d dup  %d known  %d skipped  %d problems  %s  %s/s",
		s.scanned.Load(), s.fresh.Load(), s.dup.Load(), s.known.Load(), s.skipped.Load(), s.problems.Load(),
		humanBytes(s.bytes.Load()), humanBytes(int64(s.rate())))
}

// tracker holds every source's stats.
type tracker struct {
	mu    sync.Mutex
	order []*srcStats
	by    map[string]*srcStats
}

func newTracker() *tracker { return &tracker{by: map[string]*srcStats{}} }

func (t *tracker) get(job, source string) *srcStats {
	k := job + "\x00" + source
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.by[k]
	if !ok {
		s = &srcStats{job: job, source: source, start: time.Now()}
		t.by[k] = s
		t.order = append(t.order, s)
	}
	return s
}

func (t *tracker) all() []*srcStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*srcStats(nil), t.order...)
}

// swapWriter lets log output move from the bars to the plain output.
type swapWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *swapWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *swapWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// barProgress draws one mpb line per source: items, bytes, rate. Sources
// do not announce totals, so the lines are spinners rather than bars with
// an ETA.
type barProgress struct {
	*tracker
	out  io.Writer
	p    *mpb.Progress
	logw *swapWriter
	mu   sync.Mutex
	bars map[*srcStats]*mpb.Bar
	once sync.Once
}

func newBarProgress(w io.Writer) *barProgress {
	p := mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithRefreshRate(200*time.Millisecond))
	return &barProgress{tracker: newTracker(), out: w, p: p, logw: &swapWriter{w: p}, bars: map[*srcStats]*mpb.Bar{}}
}

func (b *barProgress) LogWriter() io.Writer   { return b.logw }
func (b *barProgress) Bars() bool             { return true }
func (b *barProgress) SetLogger(*slog.Logger) {}

// SourceStarted implements engine.Observer.
func (b *barProgress) SourceStarted(job, source string) {
	s := b.get(job, source)
	bar := b.p.New(0, mpb.SpinnerStyle(), mpb.BarWidth(1),
		mpb.PrependDecorators(decor.Name(termSafe(job+"/"+source), decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return " " + s.line() })),
	)
	b.mu.Lock()
	b.bars[s] = bar
	b.mu.Unlock()
}

// Counted implements engine.Observer.
func (b *barProgress) Counted(job, source string, d workspace.Counts) {
	s := b.get(job, source)
	s.add(d)
	if d.Scanned > 0 {
		b.mu.Lock()
		bar := b.bars[s]
		b.mu.Unlock()
		if bar != nil {
			bar.IncrInt64(d.Scanned)
		}
	}
}

// SourceFinished implements engine.Observer. The line stays live until
// Stop, so log lines written meanwhile are still flushed above it.
func (b *barProgress) SourceFinished(job, source string, _ workspace.Counts, err error) {
	s := b.get(job, source)
	s.finish(err)
}

// Stop implements progress.
func (b *barProgress) Stop() {
	b.once.Do(func() {
		b.mu.Lock()
		for _, bar := range b.bars {
			bar.SetTotal(-1, true)
		}
		b.mu.Unlock()
		b.p.Wait()
		b.logw.set(b.out)
	})
}

// logProgress writes a progress log line per running source every few
// seconds: what a log collector wants instead of bars.
type logProgress struct {
	*tracker
	out   io.Writer
	log   atomic.Pointer[slog.Logger]
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	every time.Duration
}

func newLogProgress(w io.Writer, every time.Duration) *logProgress {
	l := &logProgress{tracker: newTracker(), out: w, stop: make(chan struct{}), every: every}
	l.wg.Add(1)
	go l.loop()
	return l
}

func (l *logProgress) LogWriter() io.Writer     { return l.out }
func (l *logProgress) Bars() bool               { return false }
func (l *logProgress) SetLogger(g *slog.Logger) { l.log.Store(g) }

func (l *logProgress) loop() {
	defer l.wg.Done()
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			for _, s := range l.all() {
				if !s.done.Load() {
					l.report("progress", s)
				}
			}
		}
	}
}

func (l *logProgress) report(msg string, s *srcStats) {
	g := l.log.Load()
	if g == nil {
		return
	}
	g.Info(msg, "job", s.job, "source", s.source, "scanned", s.scanned.Load(), "new", s.fresh.Load(),
		"duplicate", s.dup.Load(), "known", s.known.Load(), "skipped", s.skipped.Load(), "problems", s.problems.Load(),
		"bytes", s.bytes.Load(), "bytes_per_sec", int64(s.rate()))
}

// SourceStarted implements engine.Observer.
func (l *logProgress) SourceStarted(job, source string) { l.get(job, source) }

// Counted implements engine.Observer.
func (l *logProgress) Counted(job, source string, d workspace.Counts) {
	l.get(job, source).add(d)
}

// SourceFinished implements engine.Observer.
func (l *logProgress) SourceFinished(job, source string, _ workspace.Counts, err error) {
	s := l.get(job, source)
	s.finish(err)
	l.report("source finished", s)
}

// Stop implements progress.
func (l *logProgress) Stop() {
	l.once.Do(func() {
		if l.stop != nil {
			close(l.stop)
		}
	})
	l.wg.Wait()
}

// nopProgress shows nothing.
type nopProgress struct{ out io.Writer }

func (n nopProgress) LogWriter() io.Writer                                 { return n.out }
func (nopProgress) Bars() bool                                             { return false }
func (nopProgress) SetLogger(*slog.Logger)                                 {}
func (nopProgress) Stop()                                                  {}
func (nopProgress) SourceStarted(string, string)                           {}
func (nopProgress) Counted(string, string, workspace.Counts)               {}
func (nopProgress) SourceFinished(string, string, workspace.Counts, error) {}
