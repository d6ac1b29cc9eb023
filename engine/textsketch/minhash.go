package textsketch

import (
	"container/heap"
	"hash/fnv"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SketchSize is the number of hash values a sketch keeps (bottom-k MinHash:
// the K smallest distinct 64-bit hashes of the word shingles). Documents with
// fewer shingles keep them all, so their sketch is exact.
const SketchSize = 512

// ShingleWords is the number of consecutive words in one shingle.
const ShingleWords = 4

// shingler turns a stream of text into word shingles and keeps the bottom-k
// of their hashes. Memory is bounded by SketchSize and the longest word kept.
type shingler struct {
	maxTokens int
	tokens    int
	window    [ShingleWords]string
	filled    int
	word      strings.Builder
	heap      maxHeap
	seen      map[uint64]struct{}
}

const maxWordBytes = 64

func newShingler(maxTokens int) *shingler {
	return &shingler{maxTokens: maxTokens, seen: make(map[uint64]struct{}, SketchSize)}
}

// full reports whether the token limit was reached; later text is ignored.
func (s *shingler) full() bool { return s.maxTokens > 0 && s.tokens >= s.maxTokens }

// WriteString feeds text. Words are maximal runs of letters and digits,
// lower-cased; everything else separates words.
func (s *shingler) WriteString(text string) {
	for _, r := range text {
		if r == utf8.RuneError {
			s.boundary()
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if s.word.Len() < maxWordBytes {
				s.word.WriteRune(unicode.ToLower(r))
			}
			continue
		}
		s.boundary()
	}
}

// boundary ends the current word, if any.
func (s *shingler) boundary() {
	if s.word.Len() == 0 {
		return
	}
	w := s.word.String()
	s.word.Reset()
	if s.full() {
		return
	}
	s.tokens++
	if s.filled < ShingleWords {
		s.window[s.filled] = w
		s.filled++
		if s.filled == ShingleWords {
			s.add()
		}
		return
	}
	copy(s.window[:], s.window[1:])
	s.window[ShingleWords-1] = w
	s.add()
}

func (s *shingler) add() {
	h := fnv.New64a()
	for i := 0; i < s.filled; i++ {
		h.Write([]byte(s.window[i]))
		h.Write([]byte{0})
	}
	s.insert(mix64(h.Sum64()))
}

func (s *shingler) insert(v uint64) {
	if _, ok := s.seen[v]; ok {
		return
	}
	if len(s.heap) < SketchSize {
		heap.Push(&s.heap, v)
		s.seen[v] = struct{}{}
		return
	}
	if v >= s.heap[0] {
		return
	}
	delete(s.seen, s.heap[0])
	s.heap[0] = v
	heap.Fix(&s.heap, 0)
	s.seen[v] = struct{}{}
}

// finish flushes the last word and returns the sorted sketch and the word
// count. A text shorter than one shingle is sketched as a single shingle.
func (s *shingler) finish() ([]uint64, int) {
	s.boundary()
	if s.filled > 0 && s.filled < ShingleWords {
		s.add()
	}
	out := make([]uint64, len(s.heap))
	copy(out, s.heap)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	if len(out) == 0 {
		out = nil
	}
	return out, s.tokens
}

// mix64 is the splitmix64 finaliser: it spreads FNV's output over all bits
// so that "smallest k" is a uniform sample of the shingles.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

type maxHeap []uint64

func (h maxHeap) Len() int           { return len(h) }
func (h maxHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h maxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *maxHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
