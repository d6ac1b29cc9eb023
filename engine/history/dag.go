package history

import (
	"sort"
	"time"
)

// ver is a version under construction: one epoch of one node.
type ver struct {
	n         *node
	epoch     int
	start     time.Time
	time      time.Time
	sightings []*Sighting
	explicit  []vlink
	parents   []vlink
	children  []*ver
	order     int
	key       string
}

type vlink struct {
	p      *ver
	reason string
	conf   float64
}

// versionsOf splits each node of a document into epochs (a revert starts a
// new epoch: the bytes of an older version seen again as the child of a
// newer one) and resolves the explicit edges to versions.
func versionsOf(nodes []*node, edges []edge) []*ver {
	in := map[*node]bool{}
	for _, n := range nodes {
		in[n] = true
		n.epochs = nil
	}
	for _, e := range edges {
		if in[e.child] && e.child.first.Before(e.parent.first) && e.child.first.Before(e.ctime) {
			e.child.epochs = appendTime(e.child.epochs, e.ctime)
		}
	}
	byNode := map[*node][]*ver{}
	var all []*ver
	for _, n := range nodes {
		sort.Slice(n.epochs, func(i, j int) bool { return n.epochs[i].Before(n.epochs[j]) })
		starts := append([]time.Time{n.first}, n.epochs...)
		n.starts = starts
		vs := make([]*ver, len(starts))
		for i, st := range starts {
			vs[i] = &ver{n: n, epoch: i, start: st}
		}
		for _, s := range n.sightings {
			v := vs[epochAt(starts, s.Time)]
			v.sightings = append(v.sightings, s)
		}
		for _, v := range vs {
			if len(v.sightings) > 0 {
				v.time = v.sightings[0].Time
			} else {
				v.time = v.start
			}
			all = append(all, v)
		}
		byNode[n] = vs
	}
	for _, e := range edges {
		if !in[e.child] || !in[e.parent] {
			continue
		}
		pv := byNode[e.parent][epochAt(e.parent.starts, e.ptime)]
		cv := byNode[e.child][epochAt(e.child.starts, e.ctime)]
		if pv != cv {
			cv.explicit = append(cv.explicit, vlink{pv, e.reason, e.conf})
		}
	}
	sort.Slice(all, func(i, j int) bool { return verLess(all[i], all[j]) })
	for i, v := range all {
		v.order = i
	}
	return all
}

func verLess(a, b *ver) bool {
	if !a.time.Equal(b.time) {
		return a.time.Before(b.time)
	}
	if a.n.revision != b.n.revision {
		return a.n.revision < b.n.revision // the documents' own save counts (0: unknown, first)
	}
	if a.n.blob != b.n.blob {
		return a.n.blob < b.n.blob
	}
	return a.epoch < b.epoch
}

func appendTime(ts []time.Time, t time.Time) []time.Time {
	for _, x := range ts {
		if x.Equal(t) {
			return ts
		}
	}
	return append(ts, t)
}

func epochAt(starts []time.Time, t time.Time) int {
	i := 0
	for j := 1; j < len(starts); j++ {
		if !t.Before(starts[j]) {
			i = j
		}
	}
	return i
}

// chooseParents decides the parents of every version, oldest first, from
// the explicit evidence (SharePoint, mail) refined by what the texts carry,
// falling back to the most similar earlier version.
func chooseParents(vs []*ver) {
	for i, v := range vs {
		if i == 0 && len(v.explicit) == 0 {
			continue
		}
		var fixed []vlink
		var primary *vlink
		for k := range v.explicit {
			l := v.explicit[k]
			if l.p.order >= v.order {
				continue
			}
			if l.reason == ReasonSharePoint {
				fixed = appendLink(fixed, l)
			} else if primary == nil || l.conf > primary.conf {
				primary = &l
			}
		}
		if primary == nil && len(fixed) == 0 {
			primary = mostSimilar(v, vs[:i])
		}
		if primary != nil {
			fixed = appendLink(fixed, refine(v, *primary))
		}
		if m := mergeParent(v, fixed, vs[:i]); m != nil {
			fixed = appendLink(fixed, *m)
		}
		v.parents = fixed
		for _, l := range fixed {
			l.p.children = append(l.p.children, v)
		}
	}
}

func appendLink(ls []vlink, l vlink) []vlink {
	for _, x := range ls {
		if x.p == l.p {
			return ls
		}
	}
	return append(ls, l)
}

// maxLookback bounds the per-version work in documents with very many
// versions: the fallback parent and a merge's second parent are looked
// for among the last maxLookback earlier versions only.
const maxLookback = 128

// mostSimilar is the fallback parent: the earlier version with the most
// similar text (ties: the later one); without text, the latest earlier
// version of the same name family, else the latest earlier version. Only
// the last maxLookback earlier versions are considered.
func mostSimilar(v *ver, earlier []*ver) *vlink {
	if len(earlier) == 0 {
		return nil
	}
	earlier = earlier[max(0, len(earlier)-maxLookback):]
	var best *ver
	bestSim := -1.0
	for _, e := range earlier {
		if e.n == v.n {
			continue
		}
		if s := sim(v.n, e.n); s >= bestSim {
			best, bestSim = e, s
		}
	}
	if best == nil {
		return nil
	}
	if bestSim < 0 {
		for _, e := range earlier {
			if sharedKey(v.n, e.n, true) {
				best = e
			}
		}
	}
	reason, conf := ReasonContent, bestSim
	if sharedKey(v.n, best.n, false) {
		reason, conf = ReasonName, max(conf, 0.5)
		if sameFolder(v, best) {
			reason = ReasonFolder
		}
	}
	if conf < 0 {
		conf = 0.3
	}
	conf = max(conf, 0.05)
	return &vlink{best, reason, round2(conf)}
}

func sameFolder(a, b *ver) bool {
	type place struct{ source, path string }
	at := map[place]bool{}
	for _, s := range a.sightings {
		if s.Kind == KindShare {
			at[place{s.Source, s.Path}] = true
		}
	}
	if len(at) == 0 {
		return false
	}
	for _, t := range b.sightings {
		if t.Kind == KindShare && at[place{t.Source, t.Path}] {
			return true
		}
	}
	return false
}

// Carried-change thresholds: the share of a version's own changes (its
// shingles missing from its parent) that a later version still holds.
const (
	carriedYes   = 0.5
	carriedNo    = 0.25
	carriedMin   = 3 // sampled own changes needed to judge
	mergeCarried = 0.6
)

// refine corrects a thread parent with what the texts say: if v does not
// carry the parent's own changes it was derived from the parent's parent;
// if it carries the changes of a later child, it descends from that child
// (only the last maxLookback children of a version are considered).
func refine(v *ver, l vlink) vlink {
	if v.epoch > 0 {
		return l // a revert's bytes are an ancestor's: its text says nothing of its parent
	}
	cur, changed := l.p, false
	if len(cur.parents) == 1 {
		if r, n := carried(v.n.sketch, cur.parents[0].p.n.sketch, cur.n.sketch); n >= carriedMin && r < carriedNo {
			cur, changed = cur.parents[0].p, true
		}
	}
	for steps := 0; steps < 64; steps++ {
		var next *ver
		bestR := carriedYes
		for _, c := range cur.children[max(0, len(cur.children)-maxLookback):] {
			if c.order >= v.order || c.n == v.n {
				continue
			}
			if r, n := carried(v.n.sketch, cur.n.sketch, c.n.sketch); n >= carriedMin && r >= bestR {
				next, bestR = c, r
			}
		}
		if next == nil {
			break
		}
		cur, changed = next, true
	}
	if !changed {
		return l
	}
	return vlink{cur, ReasonContent, round2(max(0.5, sim(v.n, cur.n)))}
}

// mergeParent finds a second parent: an earlier version, not already an
// ancestor, whose own changes v carries. Only the last maxLookback
// versions are considered.
func mergeParent(v *ver, parents []vlink, earlier []*ver) *vlink {
	if len(parents) != 1 || len(v.n.sketch) == 0 {
		return nil
	}
	p := parents[0].p
	window := earlier[max(0, len(earlier)-maxLookback):]
	if len(window) == 0 {
		return nil
	}
	anc := ancestorsSince(p, window[0].order)
	var best *ver
	bestR := mergeCarried
	for _, s := range window {
		if anc[s] || s.n == v.n || s.n == p.n || len(s.parents) == 0 || !maybeSimilar(v.n, s.n, nameJoinAgree) ||
			sim(v.n, s.n) < nameJoin {
			continue
		}
		sp := s.parents[0].p.n.sketch
		inV, n1 := carried(v.n.sketch, sp, s.n.sketch)
		if n1 < carriedMin || inV < bestR {
			continue
		}
		if inP, n2 := carried(p.n.sketch, sp, s.n.sketch); n2 >= carriedMin && inP < carriedNo {
			best, bestR = s, inV
		}
	}
	if best == nil {
		return nil
	}
	return &vlink{best, ReasonContent, round2(bestR)}
}

func ancestors(v *ver) map[*ver]bool { return ancestorsSince(v, -1) }

// ancestorsSince is v and its ancestors of order minOrder or later. While
// parents are chosen, a parent is always earlier in order than its child,
// so the ancestors in that range are all reached through versions in it.
func ancestorsSince(v *ver, minOrder int) map[*ver]bool {
	seen := map[*ver]bool{v: true}
	stack := []*ver{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, l := range x.parents {
			if l.p.order >= minOrder && !seen[l.p] {
				seen[l.p] = true
				stack = append(stack, l.p)
			}
		}
	}
	return seen
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
