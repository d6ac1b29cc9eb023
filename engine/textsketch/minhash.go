package textsketch

import (
	"io"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/syncd/syncd/internal/splitmix"
)

// SketchSize is the number of hash values a sketch keeps (bottom-k MinHash:
// the K smallest distinct 64-bit hashes of the word shingles). Documents with
// fewer shingles keep them all, so their sketch is exact.
const SketchSize = 512

// ShingleWords is the number of consecutive words in one shingle.
const ShingleWords = 4

// shingler turns a stream of text into word shingles and keeps the bottom-k
// of their hashes. Memory is bounded by SketchSize and the longest word kept.
//
// A shingle's hash is FNV-1a (64-bit) over its words, each followed by a
// zero byte, then spread over all bits by splitmix.Mix, so that "smallest
// k" is a uniform sample of the shingles. Stored sketches depend on that exact
// definition: TestShingleHashIsStable pins it.
type shingler struct {
	maxTokens int
	tokens    int
	window    [ShingleWords][]byte // the last words, oldest first; buffers are reused
	filled    int
	word      []byte
	kept      []uint64 // candidates for the sketch (see insert)
	capped    bool     // kept has been cut to SketchSize at least once
	limit     uint64   // when capped: the largest hash kept
	// text, when set, receives the text as extracted (Options.Text), with
	// the extractors' separators; last is the last byte written to it.
	text io.Writer
	last byte
}

const maxWordBytes = 64

func newShingler(maxTokens int) *shingler {
	return &shingler{maxTokens: maxTokens, word: make([]byte, 0, maxWordBytes+utf8.UTFMax)}
}

// full reports whether the token limit was reached; later text is ignored.
func (s *shingler) full() bool { return s.maxTokens > 0 && s.tokens >= s.maxTokens }

// WriteString feeds text. Words are maximal runs of letters and digits,
// lower-cased; everything else (including invalid UTF-8) separates words.
func (s *shingler) WriteString(text string) {
	if s.text != nil && !s.full() && len(text) > 0 {
		io.WriteString(s.text, text)
		s.last = text[len(text)-1]
	}
	feed(s, text)
}

// Write feeds text held in a byte slice, like WriteString.
func (s *shingler) Write(p []byte) {
	if s.text != nil && !s.full() && len(p) > 0 {
		s.text.Write(p)
		s.last = p[len(p)-1]
	}
	feed(s, p)
}

// sep ends a word where the document's structure does (a paragraph, a
// cell, a run of shown PDF text) and gives the extracted text the
// separator b ('\n', '\t' or ' '), once.
func (s *shingler) sep(b byte) {
	s.boundary()
	if s.text != nil && !s.full() && s.last != 0 && s.last != b && s.last != '\n' {
		s.text.Write([]byte{b})
		s.last = b
	}
}

func feed[T string | []byte](s *shingler, text T) {
	for i := 0; i < len(text); {
		b := text[i]
		if b < utf8.RuneSelf { // ASCII: the common case, without decoding
			i++
			switch {
			case 'a' <= b && b <= 'z' || '0' <= b && b <= '9':
			case 'A' <= b && b <= 'Z':
				b += 'a' - 'A'
			default:
				s.boundary()
				continue
			}
			if len(s.word) < maxWordBytes {
				s.word = append(s.word, b)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(string(text[i:min(i+utf8.UTFMax, len(text))]))
		i += n
		if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if len(s.word) < maxWordBytes {
				s.word = utf8.AppendRune(s.word, unicode.ToLower(r))
			}
			continue
		}
		s.boundary()
	}
}

// boundary ends the current word, if any.
func (s *shingler) boundary() {
	if len(s.word) == 0 {
		return
	}
	w := s.word
	s.word = s.word[:0]
	if s.full() {
		return
	}
	s.tokens++
	if s.filled < ShingleWords {
		s.window[s.filled] = append(s.window[s.filled][:0], w...)
		s.filled++
		if s.filled == ShingleWords {
			s.add()
		}
		return
	}
	oldest := s.window[0]
	copy(s.window[:], s.window[1:])
	s.window[ShingleWords-1] = append(oldest[:0], w...)
	s.add()
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func (s *shingler) add() {
	h := uint64(fnvOffset64)
	for i := 0; i < s.filled; i++ {
		for _, c := range s.window[i] {
			h ^= uint64(c)
			h *= fnvPrime64
		}
		h *= fnvPrime64 // the zero byte after each word: h ^= 0; h *= prime
	}
	s.insert(splitmix.Mix(h))
}

// insert offers one shingle hash. Candidates collect in s.kept and are
// compacted (sorted, deduplicated, cut to SketchSize) when the buffer
// fills; after the first cut, hashes at or above the largest kept one can
// never enter and are dropped at once.
func (s *shingler) insert(v uint64) {
	if s.capped && v >= s.limit {
		return
	}
	s.kept = append(s.kept, v)
	if len(s.kept) >= 4*SketchSize {
		s.compact()
	}
}

func (s *shingler) compact() {
	slices.Sort(s.kept)
	s.kept = slices.Compact(s.kept)
	if len(s.kept) >= SketchSize {
		s.kept = s.kept[:SketchSize]
		s.capped, s.limit = true, s.kept[SketchSize-1]
	}
}

// finish flushes the last word and returns the sorted sketch and the word
// count. A text shorter than one shingle is sketched as a single shingle.
func (s *shingler) finish() ([]uint64, int) {
	s.boundary()
	if s.filled > 0 && s.filled < ShingleWords {
		s.add()
	}
	s.compact()
	if len(s.kept) == 0 {
		return nil, s.tokens
	}
	return slices.Clone(s.kept), s.tokens
}
