package history

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// The classes NameKey's replaceRuns and dash replacer stand for.
var (
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
		if s := reInitials().ReplaceAllString(stem, ""); strings.TrimSpace(s) != "" && strings.Contains(strings.TrimSpace(s), " ") {
			stem = s
		}
		for _, re := range reMarkers() {
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
