package history

import (
	"math/rand"
	"sort"
	"testing"
)

// carriedRef is the set-based definition carried must agree with.
func carriedRef(v, p, c []uint64) (float64, int) {
	if len(v) == 0 || len(p) == 0 || len(c) == 0 {
		return 0, 0
	}
	h := horizon(sketchK, v, p, c)
	set := func(s []uint64) map[uint64]bool {
		m := map[uint64]bool{}
		for _, x := range s {
			if x <= h {
				m[x] = true
			}
		}
		return m
	}
	vm, pm, cm := set(v), set(p), set(c)
	own, hit := 0, 0
	for x := range cm {
		if !pm[x] {
			own++
			if vm[x] {
				hit++
			}
		}
	}
	for x := range pm {
		if !cm[x] {
			own++
			if !vm[x] {
				hit++
			}
		}
	}
	if own == 0 {
		return 0, 0
	}
	return float64(hit) / float64(own), own
}

// randomSketch draws a bottom-k sketch of n values from a small universe so
// that sketches overlap.
func randomSketch(r *rand.Rand, n int, universe uint64) []uint64 {
	m := map[uint64]bool{}
	for len(m) < n {
		m[uint64(r.Int63n(int64(universe)))] = true
	}
	out := make([]uint64, 0, n)
	for x := range m {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out[:min(len(out), sketchK)]
}

func TestCarriedMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := range 3000 {
		u := uint64(50 + r.Intn(3000))
		v := randomSketch(r, 1+r.Intn(min(int(u), 700)), u)
		p := randomSketch(r, 1+r.Intn(min(int(u), 700)), u)
		c := randomSketch(r, 1+r.Intn(min(int(u), 700)), u)
		gr, gn := carried(v, p, c)
		wr, wn := carriedRef(v, p, c)
		if gr != wr || gn != wn {
			t.Fatalf("case %d: carried = %v, %d; want %v, %d", i, gr, gn, wr, wn)
		}
	}
}

// jaccardRef is the set-based definition Jaccard must agree with.
func jaccardRef(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return -1
	}
	h := horizon(sketchK, a, b)
	in := map[uint64]int{}
	for _, s := range [][]uint64{a, b} {
		for _, x := range s {
			if x <= h {
				in[x]++
			}
		}
	}
	inter := 0
	for _, c := range in {
		if c == 2 {
			inter++
		}
	}
	if len(in) == 0 {
		return 0
	}
	return float64(inter) / float64(len(in))
}

func TestJaccardMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := range 5000 {
		u := uint64(20 + r.Intn(3000))
		a := randomSketch(r, 1+r.Intn(min(int(u), 700)), u)
		b := randomSketch(r, 1+r.Intn(min(int(u), 700)), u)
		if got, want := Jaccard(a, b), jaccardRef(a, b); got != want {
			t.Fatalf("case %d: Jaccard = %v, want %v", i, got, want)
		}
	}
}
