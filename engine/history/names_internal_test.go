package history

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// The classes NameKey's replaceRuns and dash replacer stand for, and the
// patterns its trimmers match from the end, matched as Go does (the
// OneDrive pattern as it was first written).
var (
	reInitials = regexp.MustCompile(initialsExpr)
	reMarkers  = func() []*regexp.Regexp {
		var out []*regexp.Regexp
		for i, e := range markerExprs {
			if i == 9 {
				e = `-(DESKTOP|LAPTOP)-[A-Z0-9]{4,8}$|-[A-Z][a-z]+[A-Z][a-z]+$`
			}
			out = append(out, regexp.MustCompile(e))
		}
		return out
	}()
	reSeparators = regexp.MustCompile(`[\s_]+`)
	reDashes     = regexp.MustCompile(`[‐‑‒–—―]`)
	reKeyJunk    = regexp.MustCompile(`[\s\-.,;:'’"!]+`)
)

// nameKeyRef is NameKey without the cheap pre-checks: the definition.
func nameKeyRef(name string) (key string, isGeneric bool) {
	name = norm.NFC.String(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	stem, ext := splitExt(name)
	stem = reDashes.ReplaceAllString(stem, "-")
	stem = strings.TrimSpace(reSeparators.ReplaceAllString(stem, " "))
	for range 12 {
		before := stem
		if s := reInitials.ReplaceAllString(stem, ""); strings.TrimSpace(s) != "" && strings.Contains(strings.TrimSpace(s), " ") {
			stem = s
		}
		for _, re := range reMarkers {
			if s := strings.TrimSpace(re.ReplaceAllString(stem, "")); s != "" {
				stem = s
			}
		}
		if stem == before {
			break
		}
	}
	key = strings.TrimSpace(reKeyJunk.ReplaceAllString(strings.ToLower(stem), " "))
	isGeneric = len([]rune(key)) < 3 || generic[key] || reGenericN().MatchString(key)
	if ext != "" {
		key += "." + ext
	}
	return key, isGeneric
}

// TestNameKeyPrechecks: the pre-checks never change a key.
func TestNameKeyPrechecks(t *testing.T) {
	parts := []string{"Business", "case", "Copy of", "copy (2) of", "- Copy", "- copy (3)", "(1)", "[12]", "FINAL",
		"final", "draft", "Tracked Changes", "signed", "\u017figned", "trac\u212aed", "v2", "V1.2", "ver 3", "version 4a",
		"rev B", "Revision 12", "2024-03-10", "20240310", "10.03.24", "March 2024", "1st jan 2023", "JB", "(RP)", "[AK]",
		"JB edits", "Siobh\u00e1n's comments", "Bob's review", "with Alice's changes", "-", "_", "  ", "\u2013", "x", "Q3",
		"Minutes", "Document1", "Scan", "\u00e9", "e\u0301", "K", "Updated", "(final)", "[draft]", "v0.2 -",
		"\t", "a\nb", "\r\f", "\v", "\u00a0", "it's", "O\u2019Neil", "a.b", "x,y;z:", "\"q\"", "!!", "\u2014", "\u2010\u2015", "\xff", "_ _",
		"Kopie von", "Copie de", "Kopia av", "- Kopie", "- Copie (2)", "DESKTOP-4F2K9", "JohnSmith", "-JohnSmith", "LAPTOP-AB12", "Kopieren", "copyright"}
	exts := []string{".docx", ".xlsx", ".pdf", "", ".tar.gz", ".a_b"}
	r := rand.New(rand.NewSource(1))
	for range 20000 {
		var b strings.Builder
		for j := range 1 + r.Intn(6) {
			if j > 0 {
				b.WriteString([]string{" ", "_", "-", " - ", ""}[r.Intn(5)])
			}
			b.WriteString(parts[r.Intn(len(parts))])
		}
		b.WriteString(exts[r.Intn(len(exts))])
		name := b.String()
		k, g := NameKey(name)
		wk, wg := nameKeyRef(name)
		if k != wk || g != wg {
			t.Fatalf("NameKey(%q) = %q, %v; want %q, %v", name, k, g, wk, wg)
		}
	}
}

func FuzzNameKeyPrechecks(f *testing.F) {
	for _, s := range []string{"Business Case v2 FINAL (1).docx", "Copy of X.docx", "x_v2.docx", "Minutes.docx",
		"X v0.2 - Siobhán's comments.docx", "Q3_Finance_Report_20240310.xlsx", "A JB edits.docx", "B rev C.pdf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		k, g := NameKey(name)
		wk, wg := nameKeyRef(name)
		if k != wk || g != wg {
			t.Fatalf("NameKey(%q) = %q, %v; want %q, %v", name, k, g, wk, wg)
		}
	})
}

// TestTrimmersMatchFromTheEnd: each pattern matched reversed from the end
// of a name removes what Go's leftmost match of the pattern removes, on
// names built from the fragments the patterns look for (with letters
// that fold onto ASCII ones, combining marks and bytes that are not
// UTF-8).
func TestTrimmersMatchFromTheEnd(t *testing.T) {
	frags := []string{"a", "B", "JB", "AKR", "(", ")", "[", "]", " ", "  ", "-", " - ", "\t", "_", "v", "V", "ver", "version",
		".", "2", "12", "0.2", "1-3", "b", "rev", "Revision", "2024-03-10", "20240310", "10.03.24", "1st", "jan", "March",
		"2024", "final", "FINAL", "draft", "track changes", "signed", "\u017figned", "trac\u212aed", "copy", "Kopie", "of",
		"with", "Alice's", "Siobh\u00e1n\u2019s", "comments", "edits", "review", "DESKTOP", "LAPTOP", "4F2K9", "JohnSmith",
		"\u00e9", "e\u0301", "\xff", "\xc3", "\xa9", "\u0130", "x"}
	r := rand.New(rand.NewSource(7))
	trims := append([]trimmer{initials()}, markers()...)
	refs := append([]*regexp.Regexp{reInitials}, reMarkers...)
	reversedOnes := 0
	for i, tr := range trims {
		if tr.rev != nil {
			reversedOnes++
		}
		for range 4000 {
			var b strings.Builder
			for range 1 + r.Intn(7) {
				b.WriteString(frags[r.Intn(len(frags))])
			}
			s := b.String()
			if got, want := tr.trim(s), refs[i].ReplaceAllString(s, ""); got != want {
				t.Fatalf("pattern %d on %q: %q, want %q", i, s, got, want)
			}
		}
	}
	// Reversed, "(b|ab)$" is "^(b|ba)": its first alternative matches "ba"
	// too, but the leftmost match of the pattern in "ab" is all of it.
	if got := newTrimmer(`(b|ab)$`).trim("ab"); got != "" {
		t.Errorf(`(b|ab)$ trimmed from "ab": %q, want ""`, got)
	}
	if reversedOnes != len(trims)-1 {
		t.Errorf("%d of %d patterns matched from the end; all but the copy prefix should be", reversedOnes, len(trims))
	}
}
