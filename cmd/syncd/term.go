package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"unicode/utf8"

	"github.com/syncd/syncd/internal/safetext"
)

// termSafe makes a string safe to print on a terminal: safetext.Visible,
// the one function for that (see there).
func termSafe(s string) string { return safetext.Visible(s) }

// termLines is termSafe for text of several lines or columns: line breaks
// and tabs are kept (safetext.VisibleLines). For messages and output that
// syncd lays out itself; a single name is termSafe.
func termLines(s string) string { return safetext.VisibleLines(s) }

// termWriter passes a command's output through termSafe, keeping its own
// line breaks and tabs: for commands whose printing code prints stored
// strings (run errors, problem details) directly.
type termWriter struct {
	mu   sync.Mutex
	w    io.Writer
	part []byte // an incomplete UTF-8 sequence from the last Write
}

func newTermWriter(w io.Writer) *termWriter { return &termWriter{w: w} }

func (t *termWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := append(t.part, p...)
	t.part = nil
	// Hold back a trailing sequence that may still be completed.
	for k := 1; k <= utf8.UTFMax-1 && k <= len(buf); k++ {
		if utf8.RuneStart(buf[len(buf)-k]) {
			if !utf8.FullRune(buf[len(buf)-k:]) {
				t.part = append([]byte(nil), buf[len(buf)-k:]...)
				buf = buf[:len(buf)-k]
			}
			break
		}
	}
	if _, err := io.WriteString(t.w, termLines(string(buf))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a trailing incomplete UTF-8 sequence, escaped.
func (t *termWriter) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.part) == 0 {
		return nil
	}
	_, err := io.WriteString(t.w, termSafe(string(t.part)))
	t.part = nil
	return err
}

// termAttr is a slog ReplaceAttr for text logs: every string and error
// value goes through termSafe.
func termAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, termSafe(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, termSafe(err.Error()))
		}
		if s, ok := a.Value.Any().(fmt.Stringer); ok {
			return slog.String(a.Key, termSafe(s.String()))
		}
	}
	return a
}
