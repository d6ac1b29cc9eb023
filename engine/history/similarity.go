package history

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
	inter, union := 0, 0
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var x uint64
		switch {
		case j >= len(b) || (i < len(a) && a[i] < b[j]):
			x = a[i]
			i++
		case i >= len(a) || b[j] < a[i]:
			x = b[j]
			j++
		default:
			x = a[i]
			i++
			j++
			if x <= h {
				inter++
			}
		}
		if x <= h {
			union++
		}
	}
	// count the intersections inside the union loop: union counted each once
	if union == 0 {
		return 0
	}
	return float64(inter) / float64(union)
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
