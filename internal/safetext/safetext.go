// Package safetext makes text from strangers visible without letting it
// act: names and paths come from whoever sent a mail or wrote to a share.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Visible is the one function that makes a stranger's string safe to
// show as a line of text, on a terminal or a web page. Control characters
// (C0 including ESC, BEL, CR, LF and TAB, DEL, C1), bidi overrides and
// isolates (U+202A-202E, U+2066-2069, and the marks U+200E, U+200F,
// U+061C), line and paragraph separators and invalid UTF-8 are shown as
// escapes (\x1b for C0 and bad bytes, \u202e from DEL up, which keeps
// JSON output valid JSON), so the reader sees them and the terminal never
// acts on them, and "txt.exe" cannot be made to read "exe.txt". A web
// page still escapes the result for HTML (html/template does).
func Visible(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Unsafe(r) {
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
		case Unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Unsafe says whether Visible escapes r.
func Unsafe(r rune) bool {
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

// VisibleLines is Visible for text of several lines or columns: line
// breaks and tabs are kept, everything else goes through Visible.
func VisibleLines(s string) string {
	var out strings.Builder
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\n' || c == '\t' {
			out.WriteString(Visible(s[start:i]))
			out.WriteByte(c)
			start = i + 1
		}
	}
	out.WriteString(Visible(s[start:]))
	return out.String()
}
