// Package results holds the benchmark's rows and renders them as one
// Markdown table with the syncd / peer ratios and the targets.
package results

import (
	"fmt"
	"io"
	"strings"

	"github.com/syncd/syncd/bench/internal/measure"
)

// Target is a goal a row is checked against.
type Target struct {
	Text string
	// Met reports whether the row meets it (nil: nothing to check).
	Met func(r Row) bool `json:"-"`
}

// Row is one comparison: syncd against a peer on the same data.
type Row struct {
	Section string
	Name    string // what syncd did
	Syncd   measure.Summary
	Peer    string           // what the peer did ("" when there is none)
	PeerSum *measure.Summary // nil when there is no peer
	Target  Target
	Note    string
	Err     string // the step failed or hit its time limit
}

// WallRatio is syncd's median wall time over the peer's (0 without a peer).
func (r Row) WallRatio() float64 { return ratio(r.Syncd.Wall.Median, r.peer().Wall.Median) }

// CPURatio is syncd's median CPU time over the peer's.
func (r Row) CPURatio() float64 { return ratio(r.Syncd.CPU.Median, r.peer().CPU.Median) }

// RSSRatio is syncd's median peak RSS over the peer's.
func (r Row) RSSRatio() float64 { return ratio(r.Syncd.MaxRSS.Median, r.peer().MaxRSS.Median) }

func (r Row) peer() measure.Summary {
	if r.PeerSum == nil {
		return measure.Summary{}
	}
	return *r.PeerSum
}

func ratio(a, b float64) float64 {
	if b <= 0 || a <= 0 {
		return 0
	}
	return a / b
}

// Met is "yes", "no" or "" (no target, or the step failed).
func (r Row) Met() string {
	switch {
	case r.Err != "":
		return "no"
	case r.Target.Met == nil:
		return ""
	case r.Target.Met(r):
		return "yes"
	default:
		return "no"
	}
}

// Targets used by the benchmark.

// WallAtMost: syncd's wall time at most f times the peer's.
func WallAtMost(f float64, text string) Target {
	return Target{Text: text, Met: func(r Row) bool { x := r.WallRatio(); return x > 0 && x <= f }}
}

// RSSUnder: syncd's peak RSS (every sample) under limit bytes.
func RSSUnder(limit float64, text string) Target {
	return Target{Text: text, Met: func(r Row) bool { return r.Syncd.N > 0 && r.Syncd.MaxRSS.Max < limit }}
}

// Write renders rows as a Markdown table.
func Write(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| section | syncd | peer | wall s: syncd | wall s: peer | wall ratio | CPU s: syncd | CPU s: peer | CPU ratio | peak RSS MB: syncd | peak RSS MB: peer | RSS ratio | target | met |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
	for _, r := range rows {
		peerWall, peerCPU, peerRSS := "", "", ""
		if r.PeerSum != nil {
			peerWall, peerCPU, peerRSS = secs(r.PeerSum.Wall), secs(r.PeerSum.CPU), mb(r.PeerSum.MaxRSS)
		}
		name := r.Name
		if r.Err != "" {
			name += " **(" + r.Err + ")**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Section, cell(name), cell(r.Peer), secs(r.Syncd.Wall), peerWall, x(r.WallRatio()),
			secs(r.Syncd.CPU), peerCPU, x(r.CPURatio()), mb(r.Syncd.MaxRSS), peerRSS, x(r.RSSRatio()),
			cell(r.Target.Text), r.Met())
	}
	var notes []string
	for _, r := range rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("- %s / %s: %s", r.Section, r.Name, r.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func secs(s measure.Stat) string {
	if s.Max == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func mb(s measure.Stat) string {
	if s.Max == 0 {
		return "-"
	}
	m := func(v float64) string { return fmt.Sprintf("%.0f", v/(1<<20)) }
	return fmt.Sprintf("%s (%s–%s)", m(s.Median), m(s.Min), m(s.Max))
}

func x(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}
