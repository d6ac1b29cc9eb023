package history

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"unicode/utf8"
)

// trimmer removes what a name pattern matches. Most of NameKey's patterns
// match only at the end of a name ("... v2", "... (1)", "... - Copy"), and
// Go's regular expressions find such a match by trying every position of
// the name from the left: most of NameKey's time, and NameKey was a tenth
// of a full history rebuild's. So an end-anchored pattern is also compiled
// reversed, and matched once, anchored, against the name reversed: the
// longest match there is the leftmost one here.
type trimmer struct {
	fwd *regexp.Regexp
	rev *regexp.Regexp // nil: the pattern is not end-anchored
}

func newTrimmer(expr string) trimmer {
	t := trimmer{fwd: regexp.MustCompile(expr)}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		panic(err)
	}
	if endAnchored(re) && !t.fwd.MatchString("") {
		t.rev = regexp.MustCompile(reversed(re).String())
		t.rev.Longest()
	}
	return t
}

// trim returns s without the pattern's matches: fwd.ReplaceAllString(s,
// ""). An end-anchored pattern that cannot match the empty string matches
// at most once, from the leftmost position where the rest of s is in its
// language to the end.
func (t trimmer) trim(s string) string {
	if t.rev == nil || !utf8.ValidString(s) {
		// Reversing invalid UTF-8 rune by rune could join bytes into new
		// runes.
		return t.fwd.ReplaceAllString(s, "")
	}
	loc := t.rev.FindStringIndex(reverseRunes(s))
	if loc == nil || loc[0] != 0 {
		return s
	}
	return s[:len(s)-loc[1]]
}

// endAnchored reports whether every match of re ends at the end of the
// text.
func endAnchored(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEndText:
		return true
	case syntax.OpConcat:
		return len(re.Sub) > 0 && endAnchored(re.Sub[len(re.Sub)-1])
	case syntax.OpCapture:
		return endAnchored(re.Sub[0])
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !endAnchored(s) {
				return false
			}
		}
		return true
	}
	return false
}

// reversed returns a pattern that matches the reverse of each string re
// matches (and, under leftmost-longest matching, the same strings
// whatever the order of alternatives). Word boundaries look at the runes
// on both sides, so they stay as they are.
func reversed(re *syntax.Regexp) *syntax.Regexp {
	out := *re
	out.Sub = make([]*syntax.Regexp, len(re.Sub))
	for i, s := range re.Sub {
		out.Sub[i] = reversed(s)
	}
	switch re.Op {
	case syntax.OpLiteral:
		out.Rune = slices.Clone(re.Rune)
		slices.Reverse(out.Rune)
	case syntax.OpConcat:
		slices.Reverse(out.Sub)
	case syntax.OpBeginText:
		out.Op = syntax.OpEndText
	case syntax.OpEndText:
		out.Op = syntax.OpBeginText
	case syntax.OpBeginLine:
		out.Op = syntax.OpEndLine
	case syntax.OpEndLine:
		out.Op = syntax.OpBeginLine
	}
	return &out
}

// reverseRunes returns s with its runes in reverse order (s is valid
// UTF-8).
func reverseRunes(s string) string {
	b := make([]byte, len(s))
	n := len(s)
	for _, r := range s {
		n -= utf8.RuneLen(r)
		utf8.EncodeRune(b[n:], r)
	}
	return string(b)
}
