package history

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strconv"
	"sync"
	"time"
)

// Cache makes repeated rebuilds of a growing catalog cheap: it remembers
// every document it built under a digest of everything that decides it
// (its blobs, their sightings and texts, the evidence edges into it and
// the pins about it), the family key of every name and the signature of
// every text. A rebuild then
// recomputes only the documents whose inputs changed; grouping is always
// redone over all sightings, so the result is exactly Rebuild's (tested
// on random inputs). A Cache keeps only what the last rebuild used. It is
// safe for concurrent use; rebuilds through one Cache run one at a time.
type Cache struct {
	mu    sync.Mutex
	docs  map[[32]byte]Document
	names map[string]nameFamily
	texts map[string]*textInfo
	// this generation
	nextDocs  map[[32]byte]Document
	nextNames map[string]nameFamily
	nextTexts map[string]*textInfo
	stats     CacheStats
}

// CacheStats counts the documents of the last rebuild.
type CacheStats struct {
	Reused int // taken from the cache
	Built  int // computed
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{} }

// Rebuild is Rebuild(in), reusing the documents whose inputs are unchanged
// since the previous rebuild through c. The documents returned share
// memory with the cache: treat them as read-only.
func (c *Cache) Rebuild(in Input) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextDocs, c.nextNames, c.nextTexts = map[[32]byte]Document{}, map[string]nameFamily{}, map[string]*textInfo{}
	c.stats = CacheStats{}
	return rebuild(in, c)
}

// Stats reports what the last rebuild reused and built.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// memo is the memo newGraph fills, backed by the previous rebuild's.
func (c *Cache) memo() *memo {
	if c == nil {
		return nil
	}
	return &memo{oldNames: c.names, names: c.nextNames, oldTexts: c.texts, texts: c.nextTexts}
}

func (c *Cache) document(nodes []*node, edges []edge, pins []Pin) Document {
	if c == nil {
		return buildDocument(nodes, edges, pins)
	}
	key := groupDigest(nodes, edges, pins)
	d, ok := c.docs[key]
	if ok {
		c.stats.Reused++
	} else {
		d = buildDocument(nodes, edges, pins)
		c.stats.Built++
	}
	c.nextDocs[key] = d
	return d
}

// endGeneration keeps what this rebuild used and forgets the rest.
func (c *Cache) endGeneration() {
	if c == nil {
		return
	}
	c.docs, c.nextDocs = c.nextDocs, nil
	c.names, c.nextNames = c.nextNames, nil
	c.texts, c.nextTexts = c.nextTexts, nil
}

// digester frames values unambiguously into a buffer that is hashed at
// the end (one hash call per document).
type digester struct{ buf []byte }

func (d *digester) str(s string) {
	d.buf = binary.AppendUvarint(d.buf, uint64(len(s)))
	d.buf = append(d.buf, s...)
}

func (d *digester) u64(x uint64) { d.buf = binary.LittleEndian.AppendUint64(d.buf, x) }

func (d *digester) time(t time.Time) {
	d.u64(uint64(t.Unix()))
	d.u64(uint64(t.Nanosecond()))
	d.str(t.Location().String())
}

// groupDigest covers every input buildDocument reads.
func groupDigest(nodes []*node, edges []edge, pins []Pin) [32]byte {
	size := 256 + 160*len(edges)
	for _, n := range nodes {
		size += 96 + 128*len(n.sightings)
	}
	d := &digester{buf: make([]byte, 0, size)}
	inGroup := map[string]bool{}
	for _, n := range nodes {
		inGroup[n.blob] = true
		d.str("n")
		d.str(n.ws)
		d.str(n.blob)
		d.u64(uint64(n.size))
		d.buf = append(d.buf, n.text.sum[:]...)
		for _, s := range n.sightings {
			d.u64(uint64(s.ID))
			for _, f := range []string{s.Source, s.Kind, s.Name, s.Path, s.Author} {
				d.str(f)
			}
			d.time(s.Time)
		}
	}
	for _, e := range edges {
		d.str("e")
		for _, f := range []string{e.parent.ws, e.parent.blob, e.child.blob, e.reason, strconv.FormatUint(math.Float64bits(e.conf), 16)} {
			d.str(f)
		}
		d.time(e.parent.first)
		d.time(e.ptime)
		d.time(e.ctime)
	}
	for _, p := range pins {
		if p.Kind != PinRelink || !inGroup[p.Blob] {
			continue
		}
		d.str("p")
		d.u64(uint64(p.ID))
		d.str(p.Blob)
		d.u64(uint64(len(p.Blobs)))
		for _, b := range p.Blobs {
			d.str(b)
		}
	}
	return sha256.Sum256(d.buf)
}
