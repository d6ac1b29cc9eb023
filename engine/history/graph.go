package history

import (
	"cmp"
	"sort"
	"strings"
	"time"
)

// node is one blob within one workspace: the unit that is grouped into
// documents.
type node struct {
	idx       int
	ws, blob  string
	sightings []*Sighting // sorted by time, then id
	first     time.Time
	minID     int64
	size      int64
	revision  int // the content's own save count (Content.Revision); 0 unknown
	sketch    []uint64
	sig       []uint32 // one-permutation MinHash signature (lsh.go)
	text      *textInfo
	keys      []string    // non-generic name family keys (a set)
	anyKeys   []string    // every name family key, generic included (a set)
	epochs    []time.Time // start of each revert epoch after the first
	starts    []time.Time // first, then epochs: the start of every epoch
	hub       bool        // its place keys are no evidence (keys.go)
}

// edge is explicit evidence that child (as seen at ctime) was derived from
// parent (as seen at ptime).
type edge struct {
	parent, child *node
	ptime, ctime  time.Time
	reason        string
	conf          float64
}

// graph holds the nodes of one rebuild and the evidence between them.
type graph struct {
	nodes    []*node
	byKey    map[string]*node // ws + "\x00" + blob
	edges    []edge
	parent   []int // union-find
	contents map[string]Content
	// oversized keys are no evidence (keys.go)
	oversized map[uint64]bool
}

// capped reports whether an evidence key is oversized.
func (g *graph) capped(k uint64) bool { return len(g.oversized) > 0 && g.oversized[k] }

// correctTimes dates the sightings whose clocks the evidence shows wrong
// (mailTimes, recordTimes), once the capped keys and hubs are known: the
// evidence it weighs is what links nodes (a thread's message ids that are
// not capped, sightings of nodes that are not hubs), so a rebuild of one
// component decides as a rebuild of the whole catalog does. Corrected
// sightings are copies: the caller's input stays as it was.
func (g *graph) correctTimes() {
	var ss []*Sighting
	for _, n := range g.nodes {
		if !n.hub {
			ss = append(ss, n.sightings...)
		}
	}
	fixed := mailTimes(ss, g.capped)
	for id, t := range recordTimes(ss, g.contents) {
		fixed[id] = t
	}
	if len(fixed) == 0 {
		return
	}
	for _, n := range g.nodes {
		changed := false
		for i, s := range n.sightings {
			if t, ok := fixed[s.ID]; ok {
				c := *s
				c.Time = t
				n.sightings[i], changed = &c, true
			}
		}
		if changed {
			sortSightings(n.sightings)
			n.first = n.sightings[0].Time
		}
	}
}

// nameFamily is the memoised result of NameKey.
type nameFamily struct {
	key string
	gen bool
}

// memo memoises NameKey within a rebuild.
type memo struct {
	names map[string]nameFamily
}

type textInfo struct {
	sketch []uint64
	sig    []uint32
}

func (m *memo) lookup(name string) nameFamily { return lookupName(m.names, name) }

func newGraph(in Input, m *memo) *graph {
	g := &graph{byKey: map[string]*node{}, contents: in.Contents}
	ss := make([]*Sighting, 0, len(in.Sightings))
	seen := map[int64]bool{}
	for i := range in.Sightings {
		s := &in.Sightings[i]
		if s.Blob == "" || seen[s.ID] {
			continue
		}
		seen[s.ID] = true
		ss = append(ss, s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].ID < ss[j].ID })
	if m == nil {
		m = &memo{names: map[string]nameFamily{}}
	}
	for _, s := range ss {
		k := s.Workspace + "\x00" + s.Blob
		n := g.byKey[k]
		if n == nil {
			n = &node{ws: s.Workspace, blob: s.Blob, minID: s.ID, size: s.Size}
			g.byKey[k] = n
			g.nodes = append(g.nodes, n)
		}
		n.sightings = append(n.sightings, s)
		f := m.lookup(s.Name)
		key, gen := f.key, f.gen
		n.anyKeys = addKey(n.anyKeys, key)
		if !gen {
			n.keys = addKey(n.keys, key)
		}
	}
	sort.Slice(g.nodes, func(i, j int) bool {
		a, b := g.nodes[i], g.nodes[j]
		if a.ws != b.ws {
			return a.ws < b.ws
		}
		return a.blob < b.blob
	})
	g.parent = make([]int, len(g.nodes))
	for i, n := range g.nodes {
		n.idx = i
		g.parent[i] = i
		sortSightings(n.sightings)
		n.first = n.sightings[0].Time
		n.revision = in.Contents[n.blob].Revision
		sk := in.Contents[n.blob].Sketch
		n.text = &textInfo{sketch: sk, sig: signature(sk)}
		n.sketch, n.sig = n.text.sketch, n.text.sig
	}
	return g
}

// sortSightings orders sightings by time, then by where they were seen:
// never by catalog id, which is ingest order and varies with the timing of
// parallel downloads, so equal-time copies come out the same in every run.
func sortSightings(ss []*Sighting) {
	sort.Slice(ss, func(i, j int) bool {
		if !ss[i].Time.Equal(ss[j].Time) {
			return ss[i].Time.Before(ss[j].Time)
		}
		return placeLess(ss[i], ss[j])
	})
}

// placeLess orders two sightings by where they were seen: source, folder,
// name, then the connector's own coordinates; the catalog id only breaks
// ties between rows that agree on all of them.
func placeLess(a, b *Sighting) bool {
	if c := cmp.Or(
		strings.Compare(a.Source, b.Source),
		strings.Compare(a.Kind, b.Kind),
		strings.Compare(a.Path, b.Path),
		strings.Compare(a.Name, b.Name),
		strings.Compare(a.Lineage.Account, b.Lineage.Account),
		strings.Compare(a.Lineage.Mailbox, b.Lineage.Mailbox),
		cmp.Compare(a.Lineage.UIDValidity, b.Lineage.UIDValidity),
		cmp.Compare(a.Lineage.UID, b.Lineage.UID),
		strings.Compare(a.Lineage.Part, b.Lineage.Part),
		strings.Compare(a.Lineage.Remote, b.Lineage.Remote),
		strings.Compare(a.Lineage.Drive, b.Lineage.Drive),
		strings.Compare(a.Lineage.ItemID, b.Lineage.ItemID),
		cmp.Compare(a.Lineage.VersionIndex, b.Lineage.VersionIndex),
		strings.Compare(a.Lineage.VersionID, b.Lineage.VersionID),
		strings.Compare(a.Blob, b.Blob),
	); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

func (g *graph) find(i int) int {
	for g.parent[i] != i {
		g.parent[i] = g.parent[g.parent[i]]
		i = g.parent[i]
	}
	return i
}

// union joins two nodes' documents; nodes of different workspaces never join.
func (g *graph) union(a, b *node) {
	if a.ws != b.ws {
		return
	}
	ra, rb := g.find(a.idx), g.find(b.idx)
	if ra == rb {
		return
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	g.parent[rb] = ra
}

// sim is the Jaccard estimate of two nodes' texts, -1 when unknown.
func sim(a, b *node) float64 { return Jaccard(a.sketch, b.sketch) }

// sharedKey reports whether the nodes share a name family key
// (generic keys count only when withGeneric).
func sharedKey(a, b *node, withGeneric bool) bool {
	ka, kb := a.keys, b.keys
	if withGeneric {
		ka, kb = a.anyKeys, b.anyKeys
	}
	for _, k := range ka {
		for _, o := range kb {
			if k == o {
				return true
			}
		}
	}
	return false
}

// addKey adds k to the set ks (name keys of one blob are few).
func addKey(ks []string, k string) []string {
	for _, x := range ks {
		if x == k {
			return ks
		}
	}
	return append(ks, k)
}

// Thresholds, calibrated on the evaluation corpus: true parent/child pairs
// have Jaccard >= 0.39 (median 0.89); different documents <= 0.26.
const (
	contentJoin = 0.40 // content alone joins two blobs into one document
	nameJoin    = 0.30 // a shared non-generic name family plus this much content
	threadJoin  = 0.12 // a reply's attachment and its parent's, unless the text says otherwise
)

// sharePointEdges chains the versions of each SharePoint item.
func (g *graph) sharePointEdges() {
	type spv struct {
		idx int
		n   *node
		s   *Sighting
	}
	items := map[string][]spv{}
	for _, n := range g.nodes {
		if n.hub {
			continue
		}
		for _, s := range n.sightings {
			if s.Kind == KindSharePoint && s.Lineage.ItemID != "" && !g.capped(itemKey(n.ws, s.Source, s.Lineage.ItemID)) {
				k := n.ws + "\x00" + s.Source + "\x00" + s.Lineage.ItemID
				items[k] = append(items[k], spv{s.Lineage.VersionIndex, n, s})
			}
		}
	}
	for _, k := range sortedKeys(items) {
		vs := items[k]
		sort.Slice(vs, func(i, j int) bool {
			if vs[i].idx != vs[j].idx {
				return vs[i].idx < vs[j].idx
			}
			return vs[i].s.Time.Before(vs[j].s.Time)
		})
		for i := 1; i < len(vs); i++ {
			p, c := vs[i-1], vs[i]
			g.union(p.n, c.n)
			if p.n != c.n {
				g.edges = append(g.edges, edge{p.n, c.n, p.s.Time, c.s.Time, ReasonSharePoint, 0.95})
			}
		}
	}
}

// maxFamilyWindow bounds the work on huge name families: each blob is
// compared with the next ones in time order only.
const maxFamilyWindow = 64

// nameEdges joins blobs of one non-generic name family whose texts agree.
func (g *graph) nameEdges() {
	fam := map[string][]*node{}
	for _, n := range g.nodes {
		if n.hub {
			continue
		}
		for _, k := range n.keys {
			if !g.capped(nameKey(n.ws, k)) {
				fam[n.ws+"\x00"+k] = append(fam[n.ws+"\x00"+k], n)
			}
		}
	}
	for _, k := range sortedKeys(fam) {
		ns := fam[k]
		sort.Slice(ns, func(i, j int) bool {
			if !ns[i].first.Equal(ns[j].first) {
				return ns[i].first.Before(ns[j].first)
			}
			return ns[i].idx < ns[j].idx
		})
		for i := range ns {
			for j := i + 1; j < len(ns) && j <= i+maxFamilyWindow; j++ {
				if g.find(ns[i].idx) == g.find(ns[j].idx) {
					continue
				}
				if s := sim(ns[i], ns[j]); s < 0 || s >= nameJoin {
					g.union(ns[i], ns[j])
				}
			}
		}
	}
}

// contentEdges joins blobs whose texts are clearly versions of one another,
// comparing only the candidates that locality-sensitive hashing finds.
func (g *graph) contentEdges() {
	sigs := make([][]uint32, len(g.nodes))
	seeds := make([]uint64, len(g.nodes))
	wsOf := make([]int32, len(g.nodes)) // workspace number, for a cache-friendly check
	for i, n := range g.nodes {
		sigs[i] = n.sig
		if i > 0 && n.ws != g.nodes[i-1].ws {
			wsOf[i] = wsOf[i-1] + 1
		} else if i > 0 {
			wsOf[i] = wsOf[i-1]
		}
		if i > 0 && wsOf[i] == wsOf[i-1] {
			seeds[i] = seeds[i-1]
		} else {
			seeds[i] = wsSeed(n.ws)
		}
	}
	lshPairs(sigs, seeds, g.capped, func(a, b int) {
		if wsOf[a] != wsOf[b] || g.find(a) == g.find(b) {
			return
		}
		na, nb := g.nodes[a], g.nodes[b]
		if maybeSimilar(na, nb, contentJoinAgree) && sim(na, nb) >= contentJoin {
			g.union(na, nb)
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedIntKeys(m map[int]int) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func normID(id string) string { return strings.Trim(strings.TrimSpace(id), "<>") }
