package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"
)

// termSafe is the one function that makes a string safe to print on a
// terminal: names and paths come from whoever sent a mail or wrote to a
// share. Control characters (C0 including ESC, BEL, CR, LF and TAB, DEL,
// C1), bidi overrides and isolates (U+202A-202E, U+2066-2069, and the
// marks U+200E, U+200F, U+061C), line and paragraph separators and
// invalid UTF-8 are shown as escapes (\x1b for C0 and bad bytes, \u202e
// from DEL up, which keeps JSON output valid JSON), so the reader sees
// them and the terminal never acts on them.
func termSafe(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || termUnsafe(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20:
			fmt.Fprintf(&b, `\x%02x`, r)
		case termUnsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func termUnsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// termLines is termSafe for text of several lines or columns: line breaks
// and tabs are kept, everything else goes through termSafe. For messages
// and output that syncd lays out itself; a single name is termSafe.
func termLines(s string) string {
	var out strings.Builder
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\n' || c == '\t' {
			out.WriteString(termSafe(s[start:i]))
			out.WriteByte(c)
			start = i + 1
		}
	}
	out.WriteString(termSafe(s[start:]))
	return out.String()
}

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
