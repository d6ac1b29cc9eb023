package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/syncd/syncd/engine/textsketch"
)

// The comparison of two versions' text: each version's text extracted
// from its blob (as the history's sketches are, textsketch), compared word
// by word with diff-match-patch, shown with <ins> and <del>.

const (
	compareWords = 20000   // words read from each version
	compareBytes = 1 << 20 // and at most this much text
	// compareTime bounds the diff; past it the comparison is coarser
	// (still right, less fine-grained). Small documents finish far below.
	compareTime = 2 * time.Second
)

// segment is a run of compared text: Op -1 removed, 0 kept, 1 added.
type segment struct {
	Op   int
	Text string
}

// capped is a buffer that keeps the first max bytes and notes the rest.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); len(p) > room {
		c.over = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

// errNoText: the version's format has no text syncd reads.
var errNoText = errors.New("no text")

// versionText extracts a version's text (bounded); cut says it was.
func (s *Server) versionText(ctx context.Context, v *versionView) (text string, cut bool, err error) {
	rc, err := s.Blobs.Open(ctx, v.Blob)
	if err != nil {
		return "", false, fmt.Errorf("open %s: %w", v.Blob.Short(), err)
	}
	defer rc.Close()
	buf := &capped{max: compareBytes}
	size := v.Size
	if size <= 0 {
		size = -1
	}
	c, err := textsketch.Options{Text: buf, MaxTokens: compareWords, NoDrain: true, SkipHash: true}.Sketch(v.Name, rc, size)
	switch {
	case errors.Is(err, textsketch.ErrUnsupported):
		return "", false, errNoText
	case err != nil:
		return "", false, err
	}
	return buf.String(), buf.over || c.Tokens >= compareWords, nil
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request, p *Principal) {
	dv := s.visibleDocument(w, r, p, r.PathValue("doc"))
	if dv == nil {
		return
	}
	q := r.URL.Query()
	a, b := dv.ByKey[q.Get("a")], dv.ByKey[q.Get("b")]
	if a == nil || b == nil {
		s.fail(w, r, http.StatusBadRequest, "choose two versions of this document to compare")
		return
	}
	if s.audit(r, p, "serve.compare", dv.Key+" "+a.Key+" "+b.Key, "", dv.Workspace, dv.Key) != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing is shown")
		return
	}
	data := map[string]any{"Title": "Compare " + a.Label + " and " + b.Label + " of " + dv.Name, "Who": p, "Doc": dv, "A": a, "B": b,
		"Crumbs": crumbs(dv.Workspace, dv.Folder)}
	ta, cutA, errA := s.versionText(r.Context(), a)
	tb, cutB, errB := s.versionText(r.Context(), b)
	switch {
	case errors.Is(errA, errNoText) || errors.Is(errB, errNoText):
		data["NoText"] = true
	case errA != nil || errB != nil:
		// A damaged or unreadable document: say so, log why.
		s.logger().Warn("serve: compare", "document", dv.Key, "a", errA, "b", errB)
		data["Unreadable"] = true
	default:
		segs, added, removed := diffWords(ta, tb)
		data["Segs"], data["Added"], data["Removed"], data["Cut"] = segs, added, removed, cutA || cutB
	}
	s.render(w, r, "compare.html", data)
}

// diffWords compares a and b a word (a run of letters and digits) or a
// separator at a time, and counts the words added and removed.
func diffWords(a, b string) (segs []segment, added, removed int) {
	ids := map[string]rune{}
	var words []string
	encode := func(s string) []rune {
		var out []rune
		for _, w := range tokens(s) {
			id, ok := ids[w]
			if !ok {
				// Runes from 1, skipping the surrogates (they do not
				// survive the library's string conversions).
				id = rune(len(words) + 1)
				if id >= 0xd800 {
					id += 0x800
				}
				ids[w] = id
				words = append(words, w)
			}
			out = append(out, id)
		}
		return out
	}
	decode := func(s string) string {
		var out []byte
		for _, r := range s {
			i := int(r)
			if i >= 0xd800+0x800 {
				i -= 0x800
			}
			out = append(out, words[i-1]...)
		}
		return string(out)
	}
	ra, rb := encode(a), encode(b)
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = compareTime
	for _, d := range dmp.DiffMainRunes(ra, rb, false) {
		text := decode(d.Text)
		op := 0
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			op, added = 1, added+countWords(text)
		case diffmatchpatch.DiffDelete:
			op, removed = -1, removed+countWords(text)
		}
		if len(segs) > 0 && segs[len(segs)-1].Op == op {
			segs[len(segs)-1].Text += text
			continue
		}
		segs = append(segs, segment{Op: op, Text: text})
	}
	return segs, added, removed
}

// tokens splits s into words (runs of letters and digits) and single
// other characters.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			out = append(out, s[i:i+n])
			i += n
			continue
		}
		j := i + n
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !isWordRune(r) {
				break
			}
			j += n
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func countWords(s string) int {
	n := 0
	for _, t := range tokens(s) {
		if r, _ := utf8.DecodeRuneInString(t); isWordRune(r) {
			n++
		}
	}
	return n
}
