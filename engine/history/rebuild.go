package history

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
)

// Rebuild groups sightings into documents and rebuilds each document's
// version DAG. It is a pure function of its input: the order of
// Input.Sightings does not matter, and document and version keys depend
// only on content and sighting ids, so they stay stable as sightings are
// added.
func Rebuild(in Input) Result {
	g := newGraph(in, nil)
	g.oversized = in.Oversized
	hubs := in.Hubs
	if g.oversized == nil {
		g.oversized, hubs = g.oversizedKeys(in.KeyCap)
	}
	for _, n := range g.nodes {
		n.hub = hubs[n.ws+"\x00"+n.blob]
	}
	g.correctTimes()
	g.sharePointEdges()
	g.threadEdges()
	g.nameEdges()
	g.contentEdges()
	groups := g.applyPins(in.Pins)
	byGroup := g.edgesByGroup(groups)
	relinks := relinksOf(groups, in.Pins)
	var res Result
	for i, nodes := range groups {
		res.Documents = append(res.Documents, buildDocument(nodes, byGroup[i], relinks[i]))
	}
	sort.Slice(res.Documents, func(i, j int) bool {
		a, b := res.Documents[i], res.Documents[j]
		if a.Workspace != b.Workspace {
			return a.Workspace < b.Workspace
		}
		return a.Key < b.Key
	})
	return res
}

// applyPins turns the union-find into groups of nodes, then applies merge
// and split pins in pin id order. Groups come back in a deterministic order.
// Group labels form a second union-find, so that a merge costs no more
// than a split.
func (g *graph) applyPins(pins []Pin) [][]*node {
	label := make([]int, len(g.nodes)) // node -> label
	up := make([]int, len(g.nodes))    // label union-find
	for i := range g.nodes {
		label[i] = g.find(i)
		up[i] = i
	}
	find := func(l int) int {
		for up[l] != l {
			up[l] = up[up[l]]
			l = up[l]
		}
		return l
	}
	byBlob := map[string][]*node{}
	for _, p := range pins {
		byBlob[p.Blob] = nil
	}
	for _, n := range g.nodes {
		if ns, ok := byBlob[n.blob]; ok {
			byBlob[n.blob] = append(ns, n)
		}
	}
	for _, p := range sortedPins(pins) {
		for _, n := range byBlob[p.Blob] {
			switch p.Kind {
			case PinMerge:
				for _, b := range p.Blobs {
					if o := g.byKey[n.ws+"\x00"+b]; o != nil {
						if from, to := find(label[o.idx]), find(label[n.idx]); from != to {
							up[from] = to
						}
					}
				}
			case PinSplit:
				next := len(up)
				up = append(up, next)
				label[n.idx] = next
				for _, b := range p.Blobs {
					if o := g.byKey[n.ws+"\x00"+b]; o != nil {
						label[o.idx] = next
					}
				}
			}
		}
	}
	byGroup := map[int][]*node{}
	var order []int
	for i, n := range g.nodes {
		l := find(label[i])
		if _, ok := byGroup[l]; !ok {
			order = append(order, l)
		}
		byGroup[l] = append(byGroup[l], n)
	}
	out := make([][]*node, 0, len(order))
	for _, k := range order {
		out = append(out, byGroup[k])
	}
	return out
}

// sortedPins is pins in id order (stable for equal ids).
func sortedPins(pins []Pin) []Pin {
	ps := append([]Pin(nil), pins...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	return ps
}

// relinksOf lists, for each group, the relink pins about its blobs, in
// pin id order: all that buildDocument needs of the pins.
func relinksOf(groups [][]*node, pins []Pin) [][]Pin {
	out := make([][]Pin, len(groups))
	byBlob := map[string][]Pin{}
	for _, p := range sortedPins(pins) {
		if p.Kind == PinRelink {
			byBlob[p.Blob] = append(byBlob[p.Blob], p)
		}
	}
	if len(byBlob) == 0 {
		return out
	}
	for i, nodes := range groups {
		for _, n := range nodes {
			out[i] = append(out[i], byBlob[n.blob]...)
		}
		ps := out[i]
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].ID < ps[b].ID })
	}
	return out
}

// edgesByGroup lists, for each group, the edges whose child is in it, in
// the order of g.edges.
func (g *graph) edgesByGroup(groups [][]*node) [][]edge {
	groupOf := make([]int, len(g.nodes))
	for i, nodes := range groups {
		for _, n := range nodes {
			groupOf[n.idx] = i
		}
	}
	out := make([][]edge, len(groups))
	for _, e := range g.edges {
		gi := groupOf[e.child.idx]
		out[gi] = append(out[gi], e)
	}
	return out
}

func buildDocument(nodes []*node, edges []edge, pins []Pin) Document {
	vs := versionsOf(nodes, edges)
	chooseParents(vs)
	applyRelinks(vs, pins)
	seq := topoOrder(vs)
	first := nodes[0]
	for _, n := range nodes {
		if n.minID < first.minID {
			first = n
		}
	}
	sum := sha256.Sum256([]byte(first.ws + "\x00" + first.blob))
	d := Document{Key: "d-" + hex.EncodeToString(sum[:8]), Workspace: first.ws}
	for _, v := range vs {
		vsum := sha256.Sum256([]byte(v.n.ws + "\x00" + v.n.blob))
		v.key = "v-" + hex.EncodeToString(vsum[:8])
		if v.epoch > 0 {
			v.key += "-r" + strconv.Itoa(v.epoch+1)
		}
	}
	for i, v := range seq {
		out := Version{Key: v.key, Blob: v.n.blob, Size: v.n.size, Seq: i + 1, Time: v.time}
		for _, s := range v.sightings {
			out.Sightings = append(out.Sightings, s.ID)
			if out.Author == "" {
				out.Author = s.Author
			}
		}
		sort.Slice(out.Sightings, func(a, b int) bool { return out.Sightings[a] < out.Sightings[b] })
		for _, l := range v.parents {
			out.Parents = append(out.Parents, Link{Parent: l.p.key, Reason: l.reason, Confidence: l.conf})
		}
		d.Versions = append(d.Versions, out)
	}
	d.Folder, d.Name = displayName(seq[len(seq)-1])
	return d
}

// displayName is the folder and name of the latest version's most telling
// sighting: a share or SharePoint copy before a mail attachment, newest first.
func displayName(v *ver) (string, string) {
	rank := map[string]int{KindShare: 0, KindSharePoint: 1, KindMail: 2}
	best := v.sightings[0]
	for _, s := range v.sightings[1:] {
		rb, rs := rank[best.Kind], rank[s.Kind]
		if rs < rb || rs == rb && s.Time.After(best.Time) {
			best = s
		}
	}
	return best.Path, best.Name
}

// applyRelinks sets the parents of pinned versions, refusing a link that
// would make a cycle. pins are the document's relink pins in id order.
func applyRelinks(vs []*ver, ps []Pin) {
	first := map[string]*ver{}
	for _, v := range vs {
		if first[v.n.blob] == nil {
			first[v.n.blob] = v
		}
	}
	for _, p := range ps {
		v := first[p.Blob]
		if p.Kind != PinRelink || v == nil {
			continue
		}
		v.parents = nil
		for _, b := range p.Blobs {
			if pv := first[b]; pv != nil && pv != v && !ancestors(pv)[v] {
				v.parents = appendLink(v.parents, vlink{pv, ReasonPinned, 1})
			}
		}
	}
}

// topoOrder lists versions parents first, ties by time then blob.
func topoOrder(vs []*ver) []*ver {
	indeg := make(map[*ver]int, len(vs))
	kids := map[*ver][]*ver{}
	for _, v := range vs {
		for _, l := range v.parents {
			indeg[v]++
			kids[l.p] = append(kids[l.p], v)
		}
	}
	ready := &verHeap{}
	for _, v := range vs {
		if indeg[v] == 0 {
			ready.vs = append(ready.vs, v)
		}
	}
	heap.Init(ready)
	out := make([]*ver, 0, len(vs))
	for ready.Len() > 0 {
		v := heap.Pop(ready).(*ver)
		out = append(out, v)
		for _, k := range kids[v] {
			if indeg[k]--; indeg[k] == 0 {
				heap.Push(ready, k)
			}
		}
	}
	return out
}

// verHeap is a min-heap of versions by verLess.
type verHeap struct{ vs []*ver }

func (h *verHeap) Len() int           { return len(h.vs) }
func (h *verHeap) Less(i, j int) bool { return verLess(h.vs[i], h.vs[j]) }
func (h *verHeap) Swap(i, j int)      { h.vs[i], h.vs[j] = h.vs[j], h.vs[i] }
func (h *verHeap) Push(x any)         { h.vs = append(h.vs, x.(*ver)) }
func (h *verHeap) Pop() any {
	v := h.vs[len(h.vs)-1]
	h.vs = h.vs[:len(h.vs)-1]
	return v
}
