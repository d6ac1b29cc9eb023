package textsketch

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/syncd/syncd/internal/splitmix"
)

// referenceSketch is the sketch's definition written the slow, obvious way:
// words are maximal runs of letters and digits, lower-cased (at most 64
// bytes kept); each run of 4 consecutive words is hashed with FNV-1a over
// "w1\0w2\0w3\0w4\0" and spread with splitmix.Mix; the sketch is the 512 smallest
// distinct hashes. Stored sketches in existing catalogs depend on it, so
// the fast shingler must agree exactly.
func referenceSketch(text string) []uint64 {
	var words []string
	var w strings.Builder
	end := func() {
		if w.Len() > 0 {
			words = append(words, w.String())
			w.Reset()
		}
	}
	for _, r := range text {
		if r != unicode.ReplacementChar && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if w.Len() < maxWordBytes {
				w.WriteRune(unicode.ToLower(r))
			}
			continue
		}
		end()
	}
	end()
	hashOf := func(ws []string) uint64 {
		h := fnv.New64a()
		for _, x := range ws {
			h.Write([]byte(x))
			h.Write([]byte{0})
		}
		return splitmix.Mix(h.Sum64())
	}
	var all []uint64
	if len(words) > 0 && len(words) < ShingleWords {
		all = append(all, hashOf(words))
	}
	for i := 0; i+ShingleWords <= len(words); i++ {
		all = append(all, hashOf(words[i:i+ShingleWords]))
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) > SketchSize {
		all = all[:SketchSize]
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

func TestShinglerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := []string{"budget", "Budget", "ÉTÉ", "straße", "2024", "v2", "naïve", "日本語", "x", "\xff", "\ufffd",
		"a-b", "FINAL", "q3", strings.Repeat("long", 20), "İstanbul", "ǅemal"}
	for n := range 60 {
		var b strings.Builder
		words := rng.IntN(3000)
		if n < 5 {
			words = n // empty and shorter than one shingle
		}
		for range words {
			b.WriteString(vocab[rng.IntN(len(vocab))])
			b.WriteString([]string{" ", "\n", ", ", ".", "\t", ""}[rng.IntN(6)])
		}
		text := b.String()
		want := referenceSketch(text)

		// Fed whole, as a string.
		sh := newShingler(0)
		sh.WriteString(text)
		got, _ := sh.finish()
		if !slices.Equal(got, want) {
			t.Fatalf("text %d (%d words): WriteString sketch differs from the reference (%d vs %d values)", n, words, len(got), len(want))
		}
		// Fed in random byte chunks, as the extractors do: a word cut
		// between calls must still be one word (cuts inside a multi-byte
		// character excepted: those are invalid UTF-8 in both halves).
		sh = newShingler(0)
		for rest := []byte(text); len(rest) > 0; {
			k := 1 + rng.IntN(64)
			if k > len(rest) {
				k = len(rest)
			}
			for k < len(rest) && rest[k]&0xC0 == 0x80 {
				k++ // never split a character
			}
			sh.Write(rest[:k])
			rest = rest[k:]
		}
		got, _ = sh.finish()
		if !slices.Equal(got, want) {
			t.Fatalf("text %d: chunked Write sketch differs from the reference", n)
		}
	}
}

func TestShingleHashIsStable(t *testing.T) {
	// One shingle's value, pinned: changing the hash would silently make
	// every sketch already stored incomparable with new ones.
	sh := newShingler(0)
	sh.WriteString("Business case, version TWO")
	got, tokens := sh.finish()
	if tokens != 4 || len(got) != 1 || got[0] != referenceSketch("business case version two")[0] {
		t.Fatalf("sketch = %x (%d tokens)", got, tokens)
	}
	if got[0] != 0xa229dd71a05c1927 {
		t.Fatalf("shingle hash changed: %#x", got[0])
	}
}

// appendWindowSlow is the PDF scanner's window rule applied byte by byte.
func appendWindowSlow(win, p []byte) []byte {
	for _, b := range p {
		win = append(win, b)
		if len(win) > 4096 {
			win = append(win[:0], win[len(win)-1024:]...)
		}
	}
	return win
}

func TestAppendWindowMatchesByteByByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var fast, slow []byte
	var stream []byte
	for i := range 2000 {
		p := make([]byte, rng.IntN(9000))
		for j := range p {
			p[j] = byte(rng.IntN(256))
		}
		stream = append(stream, p...)
		fast = appendWindow(fast, p)
		slow = appendWindowSlow(slow, p)
		if !bytes.Equal(fast, slow) {
			t.Fatalf("step %d (+%d bytes): window of %d bytes, want %d", i, len(p), len(fast), len(slow))
		}
		if !bytes.HasSuffix(stream, fast) {
			t.Fatalf("step %d: window is not a suffix of the stream", i)
		}
		if rng.IntN(10) == 0 {
			fast, slow, stream = fast[:0], slow[:0], stream[:0]
		}
	}
}
