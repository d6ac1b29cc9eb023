package history

// Candidate search over sketches by locality-sensitive hashing, so that
// finding similar texts costs time linear in the number of blobs rather
// than quadratic.
//
// A bottom-k sketch holds every shingle hash of its text up to its largest
// value, so the smallest hash of the text falling in a bin (hashes split
// into lshBins bins by their mixed bits) is known exactly whenever the
// sketch has any value in that bin. Those bin minima are a one-permutation
// MinHash signature: two texts agree in a bin with probability equal to
// their Jaccard similarity. Empty bins borrow from the next non-empty bin
// (rotation densification). Bands of lshRows bins are hashed into buckets;
// texts sharing a bucket in any band are candidates. With 64 bands of 2, a
// pair at Jaccard 0.4 is missed with probability 0.84^64 < 2e-5 (and at
// the fallback-parent threshold 0.3, 0.91^64 < 0.3%).

import "github.com/syncd/syncd/internal/splitmix"

const (
	lshBins  = 128
	lshRows  = 2 // bandKey hashes two bins
	lshBands = lshBins / lshRows
	// lshWindow bounds the work in one bucket: each member is compared with
	// the few members before it (buckets of near-identical texts are
	// cliques, so chaining them loses nothing).
	lshWindow = 4
)

// signature is the densified one-permutation MinHash signature of a
// sketch, nil for an empty sketch. Each bin holds 32 bits of a hash of its
// minimum: two different minima agree by chance with probability 2^-32.
func signature(sk []uint64) []uint32 {
	if len(sk) == 0 {
		return nil
	}
	var mins [lshBins]uint64
	var set [lshBins]bool
	for _, x := range sk {
		b := splitmix.Mix(x) >> (64 - 7) // lshBins = 2^7
		if !set[b] || x < mins[b] {
			mins[b], set[b] = x, true
		}
	}
	sig := make([]uint32, lshBins)
	for b := range sig {
		if set[b] {
			sig[b] = uint32(splitmix.Mix(mins[b]))
			continue
		}
		for d := 1; d < lshBins; d++ {
			if o := (b + d) % lshBins; set[o] {
				sig[b] = uint32(splitmix.Mix(mins[o] + uint64(d)*0x9e3779b97f4a7c15))
				break
			}
		}
	}
	return sig
}

// Signature prefilters: a pair whose signatures agree in fewer than this
// share of bins is not compared exactly. A pair at Jaccard j agrees in
// about j of the 128 bins with standard deviation sqrt(j(1-j)/128) (0.043
// at 0.4, 0.041 at 0.3), so these reject a pair at the threshold with
// probability below 1e-5. They only apply when both sketches have at
// least lshBins values (tiny sketches are densified, their bins correlate).
const (
	contentJoinAgree = 0.20 // for contentJoin = 0.40
	nameJoinAgree    = 0.12 // for nameJoin = 0.30
)

// maybeSimilar reports whether two texts may reach the Jaccard threshold
// whose prefilter is agree.
func maybeSimilar(a, b *node, agree float64) bool {
	if len(a.sketch) < lshBins || len(b.sketch) < lshBins {
		return true
	}
	same := 0
	for i, x := range a.sig {
		if b.sig[i] == x {
			same++
		}
	}
	return float64(same) >= agree*lshBins
}

// bandKey hashes band i of a signature.
func bandKey(sig []uint32, i int) uint64 {
	return splitmix.Mix(uint64(sig[i*lshRows])<<32 | uint64(sig[i*lshRows+1]) ^ uint64(i)*0x51afd7ed558ccd)
}

// lshChunk is how many bands' keys are computed at once: keys are laid
// out band by band so that the bucket pass reads them sequentially.
const lshChunk = 16

// lshPairs calls fn for candidate pairs (a < b, indexes into sigs) that
// share a bucket in some band: each text is paired with the lshWindow
// texts before it in each of its buckets. A bucket's key is the band's in
// the workspace (seeds[i], see bandKeyIn); buckets whose key is capped are
// skipped. Pairs come in a deterministic order and may repeat.
func lshPairs(sigs [][]uint32, seeds []uint64, capped func(uint64) bool, fn func(a, b int)) {
	t := newBucketTable(len(sigs))
	keys := make([]uint64, lshChunk*len(sigs))
	for chunk := 0; chunk < lshBands; chunk += lshChunk {
		for i, sig := range sigs {
			if sig != nil {
				for c := range lshChunk {
					keys[c*len(sigs)+i] = bandKeyIn(seeds[i], sig, chunk+c)
				}
			}
		}
		for c := range lshChunk {
			t.reset()
			bk := keys[c*len(sigs) : (c+1)*len(sigs)]
			for i, sig := range sigs {
				if sig == nil || capped(bk[i]) {
					continue
				}
				slot := t.slot(bk[i])
				for _, o := range t.members[slot][:t.count[slot]] {
					fn(int(o), i)
				}
				t.add(slot, int32(i))
			}
		}
	}
}

// bucketTable is an open-addressing hash table from band keys to the last
// lshWindow members of the bucket (a Go map of slices costs several times
// more in the hot loop of lshPairs).
type bucketTable struct {
	keys    []uint64
	used    []bool
	count   []uint8
	members [][lshWindow]int32
	mask    uint64
}

func newBucketTable(n int) *bucketTable {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &bucketTable{keys: make([]uint64, size), used: make([]bool, size), count: make([]uint8, size),
		members: make([][lshWindow]int32, size), mask: uint64(size - 1)}
}

func (t *bucketTable) reset() {
	clear(t.used)
	clear(t.count)
}

// slot finds (or claims) the slot of key k.
func (t *bucketTable) slot(k uint64) int {
	for i := k & t.mask; ; i = (i + 1) & t.mask {
		if !t.used[i] {
			t.used[i], t.keys[i] = true, k
			return int(i)
		}
		if t.keys[i] == k {
			return int(i)
		}
	}
}

// add appends a member to a slot, forgetting the oldest beyond lshWindow.
func (t *bucketTable) add(slot int, m int32) {
	n := int(t.count[slot])
	if n == lshWindow {
		ms := &t.members[slot]
		copy(ms[:], ms[1:])
		ms[lshWindow-1] = m
		return
	}
	t.members[slot][n] = m
	t.count[slot]++
}
