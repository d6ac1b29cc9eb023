package report

import "fmt"

// Chart geometry, computed here and drawn as inline SVG by the template
// (html/template escapes every label).

type barChart struct {
	Width, Height int
	Rows          []barRow
	Legend        []legendItem
	Empty         bool
}

type barRow struct {
	Label string
	Short string // Label cut to fit labelWidth
	Y     int
	TextY int
	Segs  []barSeg
	Note  string
	NoteX int
}

type barSeg struct {
	X, Y, W int
	Class   string
	Title   string
}

type legendItem struct {
	X     int
	Y     int
	Class string
	Label string
}

const (
	chartWidth = 720
	labelWidth = 200
	labelChars = 27
	barWidth   = 420
	rowHeight  = 30
)

type series struct {
	class, label string
	value        func(SourceTotal) int64
}

var sourceSeries = []series{
	{"c-new", "new: stored", func(s SourceTotal) int64 { return s.New }},
	{"c-dup", "duplicate: not stored again", func(s SourceTotal) int64 { return s.Duplicate }},
	{"c-known", "already in the store", func(s SourceTotal) int64 { return max(s.Known, 0) }},
	{"c-skip", "skipped", func(s SourceTotal) int64 { return s.Skipped }},
	{"c-prob", "unreadable", func(s SourceTotal) int64 { return s.Problems }},
}

// sourceChart is one stacked bar per source: what happens to its items.
func sourceChart(r *Report) barChart {
	var peak int64
	for _, s := range r.Sources {
		var t int64
		for _, se := range sourceSeries {
			t += se.value(s)
		}
		peak = max(peak, t)
	}
	c := barChart{Width: chartWidth, Empty: peak == 0}
	for i, s := range r.Sources {
		row := barRow{Label: s.Name, Y: 8 + i*rowHeight, TextY: 8 + i*rowHeight + 15}
		x, total := labelWidth, int64(0)
		for _, se := range sourceSeries {
			n := se.value(s)
			total += n
			if n == 0 || peak == 0 {
				continue
			}
			w := max(int(float64(n)/float64(peak)*barWidth+0.5), 1)
			row.Segs = append(row.Segs, barSeg{X: x, Y: row.Y, W: w, Class: se.class, Title: fmt.Sprintf("%s: %s %s", s.Name, num(n), se.label)})
			x += w
		}
		row.Note, row.NoteX = num(total)+" items", x+6
		row.Short = shorten(s.Name, labelChars)
		c.Rows = append(c.Rows, row)
	}
	c.Height = legend(&c, 8+len(r.Sources)*rowHeight, sourceSeries)
	return c
}

// bytesChart shows the content to store against the bytes dedupe saves.
func bytesChart(r *Report) barChart {
	t := r.Totals
	peak := t.NewBytes + t.SavedBytes
	c := barChart{Width: chartWidth, Empty: peak == 0}
	row := barRow{Label: "content found", Short: "content found", Y: 8, TextY: 23}
	x := labelWidth
	for _, p := range []struct {
		n            int64
		class, label string
	}{{t.NewBytes, "c-new", "to store"}, {t.SavedBytes, "c-dup", "saved by storing each content once"}} {
		if p.n == 0 || peak == 0 {
			continue
		}
		w := max(int(float64(p.n)/float64(peak)*barWidth+0.5), 1)
		row.Segs = append(row.Segs, barSeg{X: x, Y: row.Y, W: w, Class: p.class, Title: HumanBytes(p.n) + " " + p.label})
		x += w
	}
	row.Note, row.NoteX = HumanBytes(peak), x+6
	c.Rows = []barRow{row}
	c.Height = legend(&c, 8+rowHeight, []series{{class: "c-new", label: "to store: " + HumanBytes(t.NewBytes)}, {class: "c-dup", label: "saved by dedupe: " + HumanBytes(t.SavedBytes)}})
	return c
}

// legend lays the legend out in rows under the bars; it returns the
// chart's height.
func legend(c *barChart, y int, ss []series) int {
	x := labelWidth
	y += 6
	for _, s := range ss {
		w := 22 + 7*len([]rune(s.label))
		if x+w > chartWidth {
			x, y = labelWidth, y+20
		}
		c.Legend = append(c.Legend, legendItem{X: x, Y: y, Class: s.class, Label: s.label})
		x += w + 14
	}
	return y + 22
}

// dagGraph draws a document's versions left to right by seq, one lane per
// branch, with a line for every parent link.
type dagGraph struct {
	Width, Height, ViewWidth int
	Nodes                    []dagNode
	Edges                    []dagEdge
}

type dagNode struct {
	X, Y  int
	Seq   int
	Class string
	Title string
}

type dagEdge struct {
	X1, Y1, X2, Y2 int
	Class          string
}

const (
	dagStep   = 40
	dagLane   = 28
	dagMargin = 18
	dagLanes  = 6
)

func dag(d Document) dagGraph {
	lane := map[string]int{}
	tip := map[int]string{}
	pos := map[string][2]int{}
	lanes := 0
	g := dagGraph{}
	for i, v := range d.Versions {
		l := -1
		for _, p := range v.Parents {
			if pl, ok := lane[p.Parent]; ok && tip[pl] == p.Parent {
				l = pl
				break
			}
		}
		if l < 0 {
			l = min(lanes, dagLanes-1)
			lanes = min(lanes+1, dagLanes)
		}
		lane[v.ID], tip[l] = l, v.ID
		x, y := dagMargin+i*dagStep, dagMargin+l*dagLane
		pos[v.ID] = [2]int{x, y}
		class := "n-old"
		if v.New {
			class = "n-new"
		}
		g.Nodes = append(g.Nodes, dagNode{X: x, Y: y, Seq: v.Seq, Class: class,
			Title: fmt.Sprintf("version %d, %s, %s", v.Seq, when(v.Time), orUnknown(v.Author))})
	}
	for _, v := range d.Versions {
		for _, p := range v.Parents {
			from, ok := pos[p.Parent]
			if !ok {
				continue
			}
			to := pos[v.ID]
			g.Edges = append(g.Edges, dagEdge{X1: from[0], Y1: from[1], X2: to[0], Y2: to[1], Class: "e-" + p.Reason})
		}
	}
	g.ViewWidth = 2*dagMargin + max(len(d.Versions)-1, 0)*dagStep
	g.Width = min(g.ViewWidth, 900)
	g.Height = 2*dagMargin + max(lanes-1, 0)*dagLane
	return g
}

// shorten cuts s to n runes, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
