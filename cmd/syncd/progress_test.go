package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// feed plays one source's run into an observer.
func feed(o engine.Observer, job, source string, n int) {
	o.SourceStarted(job, source)
	for i := range n {
		o.Counted(job, source, workspace.Counts{Scanned: 1})
		switch i % 3 {
		case 0:
			o.Counted(job, source, workspace.Counts{New: 1, BytesNew: 1000})
		case 1:
			o.Counted(job, source, workspace.Counts{Duplicate: 1, BytesSaved: 500})
		case 2:
			o.Counted(job, source, workspace.Counts{Problems: 1})
		}
	}
}

func TestLogProgressWritesPeriodicLines(t *testing.T) {
	out := &syncBuf{}
	p, err := newProgress(progressAuto, out, 10*time.Millisecond) // a buffer is no terminal
	if err != nil {
		t.Fatal(err)
	}
	if p.Bars() {
		t.Fatal("auto mode chose bars for a non-terminal")
	}
	p.SetLogger(slog.New(slog.NewJSONHandler(p.LogWriter(), nil)))
	feed(p, "mig", "mail", 9)
	eventually(t, "a periodic progress line", func() bool { return strings.Contains(out.String(), `"msg":"progress"`) })
	p.SourceFinished("mig", "mail", workspace.Counts{}, nil)
	p.Stop()
	if !contains(out.String(), `"msg":"progress"`, `"job":"mig"`, `"source":"mail"`, `"scanned":9`, `"new":3`, `"duplicate":3`, `"problems":3`, `"bytes":4500`) {
		t.Errorf("progress lines lack the counts:\n%s", out)
	}
	if !strings.Contains(out.String(), `"msg":"source finished"`) {
		t.Errorf("no line when the source finished:\n%s", out)
	}
}

func TestBarProgressRendersSources(t *testing.T) {
	out := &syncBuf{}
	p, err := newProgress(progressBar, out, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(p.LogWriter(), nil))
	feed(p, "mig", "mail", 6)
	feed(p, "mig", "share", 3)
	log.Info("a log line above the bars")
	p.SourceFinished("mig", "mail", workspace.Counts{}, nil)
	p.SourceFinished("mig", "share", workspace.Counts{}, errors.New("share: gone"))
	p.Stop()
	log.Info("after the bars")
	s := out.String()
	if !contains(s, "mig/mail", "mig/share", "6 items", "2 new", "2 dup", "a log line above the bars", "after the bars") {
		t.Errorf("bar output lacks sources, counts or log lines:\n%s", s)
	}
}

func TestProgressModeRejected(t *testing.T) {
	if _, err := newProgress("fancy", &syncBuf{}, time.Second); err == nil {
		t.Error("unknown --progress mode accepted")
	}
}
