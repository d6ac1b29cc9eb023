package history

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Name normalisation: the family key of a file name strips what people and
// tools add to a document's name when they copy, edit or re-save it.

// The patterns are compiled on first use, not when the package
// initialises: every syncd command links history, and a command that
// names no file (version, a sync with nothing new) never needs them.
var (
	// trailing initials (case-sensitive): "X JB", "X_JB", "X (JB)", "X JB edits"
	initialsExpr = `[\s\-]*[\(\[]?\b[A-Z]{2,3}\b[\)\]]?(\s+edits)?$`
	initials     = sync.OnceValue(func() trimmer { return newTrimmer(initialsExpr) })
	// What people and tools add to a name, in the order NameKey removes
	// them (mayHaveMarker knows each by its index).
	markerExprs = []string{
		// Copy names in the languages of the clients people use: "Copy
		// of", "Kopie von" / "Kopie van", "Copie de", "Copia di" / "Copia
		// de", "Kopia av", "Kopi av" / "Kopi af"; and Windows' "X - Copy",
		// "X - Kopie", "X - Copie", "X - Copia", "X - Kopia", "X - Kopio".
		`(?i)^(copy|kopie|copie|copia|kopia|kopi|kopio)( \(\d+\))? (of|von|van|de|di|av|af)\s+`,
		`(?i)\s*-\s*(copy|kopie|copie|copia|kopia|kopi|kopio)(\s*\(\d+\))?$`,
		`(?i)\s*[\(\[]\d{1,3}[\)\]]$`,
		`(?i)[\s\-]*[\(\[]?(final|draft|updated|update|corrected|revised|latest|clean|tracked|track changes|tracked changes|amended|approved|signed)[\)\]]?$`,
		`(?i)[\s\-]*(with\s+)?[\pL]+(?:'s|’s)?\s+(comments|edits|changes|review)$`,
		`(?i)[\s\-]*[\(\[]?v(er(sion)?)?\.?\s?\d+([.\-]\d+)*[a-z]?[\)\]]?$`,
		`(?i)[\s\-]*\brev(ision)?\.?\s?[a-z0-9]{1,3}$`,
		`(?i)[\s\-]*\(?(\d{4}-\d{1,2}-\d{1,2}|\d{8}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}-\d{1,2}-\d{4})\)?$`,
		`(?i)[\s\-]*(\d{1,2}(st|nd|rd|th)?\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{4}$`,
		// OneDrive's conflict copies: the machine's or the person's name
		// joined on with a hyphen ("Budget-DESKTOP-4F2K9",
		// "Budget-JohnSmith"); case matters.
		`-(?:(?:DESKTOP|LAPTOP)-[A-Z0-9]{4,8}|[A-Z][a-z]+[A-Z][a-z]+)$`,
	}
	markers = sync.OnceValue(func() []trimmer {
		out := make([]trimmer, len(markerExprs))
		for i, e := range markerExprs {
			out[i] = newTrimmer(e)
		}
		return out
	})
	reGenericN = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(document|doc|scan|image|img|dsc|book|presentation|untitled|new document|new microsoft word document|new microsoft excel worksheet|attachment|file|copy|sheet)\s?\d*$`)
	})
	generic = map[string]bool{"minutes": true, "agenda": true, "report": true, "notes": true, "note": true,
		"summary": true, "memo": true, "letter": true, "paper": true, "slides": true, "draft": true, "update": true,
		"action log": true, "actions": true, "meeting notes": true, "meeting minutes": true, "briefing": true,
		"form": true, "template": true, "invoice": true, "data": true, "export": true, "list": true, "readme": true,
		"final": true, "comments": true, "feedback": true, "plan": true, "proposal": true, "statement": true}
)

// NameKey returns the family key of a file name ("Business Case v2 FINAL
// (1).docx" -> "business case.docx") and whether the name is generic
// (Minutes, Agenda, Report, Document1, Scan, image001...): generic names
// never link documents on their own.
func NameKey(name string) (key string, isGeneric bool) {
	name = norm.NFC.String(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	stem, ext := splitExt(name)
	if strings.ContainsAny(stem, dashes) {
		stem = dashReplacer.Replace(stem)
	}
	stem = strings.TrimSpace(replaceRuns(stem, isSeparator))
	for range 12 {
		before := stem
		if mayHaveInitials(stem) {
			if s := initials().trim(stem); strings.TrimSpace(s) != "" && strings.Contains(strings.TrimSpace(s), " ") {
				stem = s
			}
		}
		lower := asciiLower(stem)
		for i, m := range markers() {
			if !mayHaveMarker(i, stem, lower) {
				continue
			}
			if s := strings.TrimSpace(m.trim(stem)); s != "" && s != stem {
				stem, lower = s, asciiLower(s)
			}
		}
		if stem == before {
			break
		}
	}
	key = strings.TrimSpace(replaceRuns(strings.ToLower(stem), isKeyJunk))
	isGeneric = len([]rune(key)) < 3 || generic[key] || reGenericN().MatchString(key)
	if ext != "" {
		key += "." + ext
	}
	return key, isGeneric
}

// NameKey's character classes, without regular expressions (they were
// most of its time): reDashes, reSeparators and reKeyJunk (in the tests), which
// TestNameKeyPrechecks compares them with.
const dashes = "‐‑‒–—―"

var dashReplacer = strings.NewReplacer("‐", "-", "‑", "-", "‒", "-", "–", "-", "—", "-", "―", "-")

// isSeparator is reSeparators' class: \s (ASCII, as in RE2) and _.
func isSeparator(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r' || r == '_'
}

// isKeyJunk is reKeyJunk's class.
func isKeyJunk(r rune) bool {
	return isSeparator(r) && r != '_' || strings.ContainsRune(`-.,;:'’"!`, r)
}

// replaceRuns replaces each run of runes in a class with one space, as
// regexp.MustCompile(`[class]+`).ReplaceAllString(s, " ") does (bytes
// that are not UTF-8 are kept as they are).
func replaceRuns(s string, in func(rune) bool) string {
	i := strings.IndexFunc(s, in)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	run := false
	for j := i; j < len(s); {
		r, size := utf8.DecodeRuneInString(s[j:])
		if size == 1 && r == utf8.RuneError {
			b.WriteByte(s[j])
			run = false
		} else if in(r) {
			if !run {
				b.WriteByte(' ')
			}
			run = true
		} else {
			b.WriteString(s[j : j+size])
			run = false
		}
		j += size
	}
	return b.String()
}

// markerWords are the words reMarkers[3] looks for.
var markerWords = []string{"final", "draft", "update", "corrected", "revised", "latest", "clean", "tracked",
	"track changes", "amended", "approved", "signed"}

// mayHaveMarker is a cheap necessary condition for markerExprs[i] to
// match a stem (regular expressions are slow, and most names carry few
// markers); lower is the stem in lower case when it is ASCII, "" when not
// (non-ASCII stems always go to the regular expression: case folding maps
// some non-ASCII letters onto ASCII ones).
func mayHaveMarker(i int, stem, lower string) bool {
	if lower == "" {
		return true
	}
	last := lower[len(lower)-1]
	digit := last >= '0' && last <= '9'
	switch i {
	case 0:
		return strings.HasPrefix(lower, "cop") || strings.HasPrefix(lower, "kop")
	case 1:
		return strings.Contains(lower, "cop") || strings.Contains(lower, "kop")
	case 2:
		return last == ')' || last == ']'
	case 3:
		for _, w := range markerWords {
			if strings.Contains(lower, w) {
				return true
			}
		}
		return false
	case 4:
		for _, w := range []string{"comments", "edits", "changes", "review"} {
			if strings.HasSuffix(lower, w) {
				return true
			}
		}
		return false
	case 5:
		return strings.IndexByte(lower, 'v') >= 0 && strings.IndexAny(lower, "0123456789") >= 0
	case 6:
		return strings.Contains(lower, "rev")
	case 7:
		return digit || last == ')'
	case 8:
		return digit
	case 9:
		return strings.IndexByte(stem, '-') >= 0
	}
	return true
}

// mayHaveInitials is a cheap necessary condition for reInitials to match.
func mayHaveInitials(stem string) bool {
	if stem == "" || !isASCII(stem) {
		return true
	}
	last := stem[len(stem)-1]
	return last >= 'A' && last <= 'Z' || last == ')' || last == ']' || strings.HasSuffix(stem, "edits")
}

// asciiLower is s in lower case when s is ASCII, "" when it is not.
func asciiLower(s string) string {
	if !isASCII(s) {
		return ""
	}
	return strings.ToLower(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// splitExt splits "a.b.docx" into "a.b" and "docx" (lower-cased); an
// extension is 1-5 letters or digits.
func splitExt(name string) (string, string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i-1 > 5 || i == len(name)-1 {
		return name, ""
	}
	ext := name[i+1:]
	for _, r := range ext {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return name, ""
		}
	}
	return name[:i], strings.ToLower(ext)
}
