package history

import "sort"

// Sketches are bottom-k MinHash sketches (see engine/textsketch): the k
// smallest distinct 64-bit shingle hashes, sorted ascending. Two sketches
// are compared on the hash range both cover completely, which makes the
// estimates below consistent samples of the true shingle sets.

// horizon is the largest hash value for which every sketch in ss is
// complete: a sketch shorter than k holds all of its shingles.
func horizon(k int, ss ...[]uint64) uint64 {
	h := ^uint64(0)
	for _, s := range ss {
		if len(s) >= k && s[len(s)-1] < h {
			h = s[len(s)-1]
		}
	}
	return h
}

// sketchK is the sketch size textsketch produces; sketches at least this
// long are treated as truncated samples.
const sketchK = 512

// Jaccard estimates |A∩B| / |A∪B| from two sketches; -1 when either is empty.
func Jaccard(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return -1
	}
	h := horizon(sketchK, a, b)
	a, b = upTo(a, h), upTo(b, h)
	inter := 0
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x, y := a[i], b[j]
		if x <= y {
			i++
		}
		if y <= x {
			j++
		}
		if x == y {
			inter++
		}
	}
	union := len(a) + len(b) - inter
	if union == 0 {
		return 0
	}
	return float64(inter) / float64(union)
}

// upTo is the prefix of the sorted sketch s with values <= h.
func upTo(s []uint64, h uint64) []uint64 {
	if len(s) == 0 || s[len(s)-1] <= h {
		return s
	}
	return s[:sort.Search(len(s), func(i int) bool { return s[i] > h })]
}

// carried estimates how many of c's own changes relative to p (shingles
// c added, and shingles c removed) v agrees with: the share of them v
// shares with c, and the sampled number of changes. It is the evidence that
// v descends from c (or merged c's changes) rather than from p alone.
// Sketches are sorted, so one merge pass over them does it.
func carried(v, p, c []uint64) (float64, int) {
	if len(v) == 0 || len(p) == 0 || len(c) == 0 {
		return 0, 0
	}
	h := horizon(sketchK, v, p, c)
	own, hit := 0, 0
	i, j, k := 0, 0, 0
	for {
		inP := i < len(p) && p[i] <= h
		inC := j < len(c) && c[j] <= h
		if !inP && !inC {
			break
		}
		var x uint64
		switch {
		case inP && inC && p[i] == c[j]:
			i++
			j++
			continue
		case inC && (!inP || c[j] < p[i]):
			x = c[j]
			j++
		default:
			x = p[i]
			i++
		}
		// x is an own change: added by c (x came from c) or removed (from p)
		added := j > 0 && c[j-1] == x
		for k < len(v) && v[k] < x {
			k++
		}
		inV := k < len(v) && v[k] == x && x <= h
		own++
		if added == inV {
			hit++
		}
	}
	if own == 0 {
		return 0, 0
	}
	return float64(hit) / float64(own), own
}
