package history

import (
	"math/rand"
	"sort"
	"testing"
)

// similarPair makes two bottom-k sketches of texts of n shingles sharing
// a share of them.
func similarPair(r *rand.Rand, n int, share float64) ([]uint64, []uint64) {
	common := int(float64(n) * share)
	a, b := make([]uint64, 0, n), make([]uint64, 0, n)
	for range common {
		x := r.Uint64()
		a, b = append(a, x), append(b, x)
	}
	for range n - common {
		a, b = append(a, r.Uint64()), append(b, r.Uint64())
	}
	bottom := func(s []uint64) []uint64 {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[:min(len(s), sketchK)]
	}
	return bottom(a), bottom(b)
}

// TestLSHFindsSimilarPairs: every pair at Jaccard >= 0.4 among many
// unrelated texts is a candidate, and unrelated texts rarely are.
func TestLSHFindsSimilarPairs(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	var sigs [][]uint32
	var sketches [][]uint64
	const pairs = 300
	for range pairs {
		n := 40 + r.Intn(4000)
		a, b := similarPair(r, n, 0.58+r.Float64()*0.4) // Jaccard 0.41..0.96
		sketches = append(sketches, a, b)
	}
	for range 3000 { // unrelated texts
		a, _ := similarPair(r, 40+r.Intn(4000), 0)
		sketches = append(sketches, a)
	}
	perm := r.Perm(len(sketches))
	at := make([]int, len(sketches)) // original index -> position
	shuffled := make([][]uint64, len(sketches))
	for pos, orig := range perm {
		shuffled[pos], at[orig] = sketches[orig], pos
	}
	for _, s := range shuffled {
		sigs = append(sigs, signature(s))
	}
	found := map[[2]int]bool{}
	candidates := 0
	lshPairs(sigs, make([]uint64, len(sigs)), func(uint64) bool { return false }, func(a, b int) {
		candidates++
		found[[2]int{a, b}] = true
	})
	for i := range pairs {
		a, b := at[2*i], at[2*i+1]
		if a > b {
			a, b = b, a
		}
		if j := Jaccard(sketches[2*i], sketches[2*i+1]); j >= contentJoin && !found[[2]int{a, b}] {
			t.Errorf("pair %d at Jaccard %.2f not a candidate", i, j)
		}
	}
	if unrelated := len(found) - pairs; unrelated > len(sketches) {
		t.Errorf("%d unrelated candidate pairs among %d texts", unrelated, len(sketches))
	}
}
