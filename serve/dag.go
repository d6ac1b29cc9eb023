package serve

import (
	"fmt"
	"net/url"

	"github.com/syncd/syncd/internal/safetext"
)

// graph is a document's version DAG laid out for SVG: a row per version
// in order, a lane per line of work (a fork opens a lane).
type graph struct {
	Width, Height int
	Nodes         []graphNode
	Edges         []graphEdge
}

type graphNode struct {
	X, Y      int
	Label     string // "3"
	Title     string // "version 3, 2026-01-02 by ..."
	Href      string
	Head      bool
	Selected  bool
	TextX     int
	TextLabel string
}

type graphEdge struct {
	X1, Y1, X2, Y2 int
	Title          string // "from version 2: edit of (94%)"
	Weak           bool   // confidence under 0.8: drawn dashed
}

const (
	laneW = 28
	rowH  = 34
	pad   = 18
)

func layoutDAG(dv *docView) graph {
	lane := map[string]int{}
	// taken: the lane's last version has a child in it already.
	var tip []string // per lane, the key of its last version
	row := map[string]int{}
	for i, v := range dv.Versions {
		row[v.Key] = i
		l := -1
		for _, p := range v.Version.Parents {
			pl, ok := lane[p.Parent]
			if ok && tip[pl] == p.Parent {
				l = pl
				break
			}
		}
		if l < 0 {
			l = len(tip)
			tip = append(tip, "")
		}
		lane[v.Key] = l
		tip[l] = v.Key
	}
	longest := 0
	for _, v := range dv.Versions {
		longest = max(longest, len(v.Label)+len(v.Author)+16)
	}
	g := graph{Width: pad*2 + max(1, len(tip))*laneW + 8*longest, Height: pad*2 + max(1, len(dv.Versions))*rowH - rowH/2}
	x := func(k string) int { return pad + lane[k]*laneW }
	y := func(k string) int { return pad + row[k]*rowH }
	for _, v := range dv.Versions {
		for _, p := range v.Parents {
			if _, ok := lane[p.Key]; !ok {
				continue
			}
			g.Edges = append(g.Edges, graphEdge{
				X1: x(p.Key), Y1: y(p.Key), X2: x(v.Key), Y2: y(v.Key),
				Title: fmt.Sprintf("%s from %s: %s (%.0f%%)", v.Label, p.Label, safetext.Visible(p.Reason), p.Confidence*100),
				Weak:  p.Confidence < 0.8,
			})
		}
	}
	textX := pad + len(tip)*laneW
	for _, v := range dv.Versions {
		title := v.Label + ", " + dateOf(v)
		if v.Author != "" {
			title += " by " + safetext.Visible(v.Author)
		}
		g.Nodes = append(g.Nodes, graphNode{
			X: x(v.Key), Y: y(v.Key), Label: fmt.Sprint(v.Seq), Title: title,
			Href: "/d/" + url.PathEscape(dv.Key) + "/v/" + url.PathEscape(v.Key),
			Head: v.Head, Selected: v.Selected, TextX: textX, TextLabel: title,
		})
	}
	return g
}

func dateOf(v *versionView) string {
	if v.Time.IsZero() {
		return "undated"
	}
	return v.Time.UTC().Format("2006-01-02")
}
