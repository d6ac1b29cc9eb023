package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

// Limits of what report.html lists in full; plan.json and the CSVs always
// hold everything, and the page says how much it left out.
const (
	htmlDocuments  = 100
	htmlDuplicates = 25
	htmlConflicts  = 500 // rows of the conflicts and of the forks tables
	htmlReasonRows = 200
	htmlTreeRows   = 400
	htmlPlaces     = 6  // places listed per version
	htmlVersions   = 30 // versions listed per document: the first few and the latest
	htmlFirstVers  = 5
)

// tmpl is parsed on first use, not when the package initialises: every
// syncd command links the report, few write one (process start).
var tmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"bytes":   HumanBytes,
		"num":     num,
		"when":    when,
		"day":     day,
		"dur":     duration,
		"why":     ItemWhy,
		"minus":   func(a, b int) int { return a - b },
		"indent":  func(d int) int { return d * 18 },
		"base":    path.Base,
		"places":  placeLines,
		"plural":  plural,
		"fmtconf": func(c float64) string { return fmt.Sprintf("%.0f%%", c*100) },
	}).Parse(htmlTemplate))
})

// view is what the template renders.
type view struct {
	*Report
	Title         string
	Docs          []docView
	DocsLeft      int
	Conflicts     []Conflict
	ConflictsLeft int
	Forks         []Fork
	ForksLeft     int
	Dups          []DupGroup
	DupsLeft      int
	Skipped       []reasonView
	Problems      []reasonView
	Workspaces    []treeView
	SourceChart   barChart
	BytesChart    barChart
	HasSeenKnown  bool
}

type docView struct {
	Document
	Graph  dagGraph
	Shown  []Version
	GapAt  int // index in Shown before which Hidden versions are left out
	Hidden int
}

func newDocView(d Document) docView {
	v := docView{Document: d, Graph: dag(d), Shown: d.Versions, GapAt: -1}
	if n := len(d.Versions); n > htmlVersions {
		last := htmlVersions - htmlFirstVers
		v.Shown = append(slices.Clone(d.Versions[:htmlFirstVers]), d.Versions[n-last:]...)
		v.GapAt, v.Hidden = htmlFirstVers, n-htmlVersions
	}
	return v
}

type reasonView struct {
	ReasonGroup
	Items []NamedItem // the first of the group's items
	Left  int
}

type treeView struct {
	Workspace
	Left int
}

// WriteHTML writes report.html: one self-contained page (no scripts, no
// external resources; a Content-Security-Policy forbids any), printable.
func WriteHTML(w io.Writer, r *Report) error {
	v := view{Report: r, Title: title(r)}
	for i, d := range r.Documents.Top {
		if i == htmlDocuments {
			break
		}
		v.Docs = append(v.Docs, newDocView(d))
	}
	v.DocsLeft = int(r.Documents.Len) - len(v.Docs)
	v.Conflicts, v.Forks = r.Conflicts.Top, r.Forks.Top
	if len(v.Conflicts) > htmlConflicts {
		v.Conflicts = v.Conflicts[:htmlConflicts]
	}
	if len(v.Forks) > htmlConflicts {
		v.Forks = v.Forks[:htmlConflicts]
	}
	v.ConflictsLeft, v.ForksLeft = int(r.Conflicts.Len)-len(v.Conflicts), int(r.Forks.Len)-len(v.Forks)
	v.Dups = r.Duplicates.Top
	if len(v.Dups) > htmlDuplicates {
		v.Dups = v.Dups[:htmlDuplicates]
	}
	v.DupsLeft = int(r.Duplicates.Len) - len(v.Dups)
	v.Skipped, v.Problems = capReasons(r.Skipped), capReasons(r.Problems)
	for _, ws := range r.Workspaces {
		tv := treeView{Workspace: ws}
		if len(ws.Folders) > htmlTreeRows {
			tv.Folders, tv.Left = ws.Folders[:htmlTreeRows], len(ws.Folders)-htmlTreeRows
		}
		v.Workspaces = append(v.Workspaces, tv)
	}
	for _, s := range r.Sources {
		v.HasSeenKnown = v.HasSeenKnown || s.Seen >= 0
	}
	v.SourceChart = sourceChart(r)
	v.BytesChart = bytesChart(r)
	if err := tmpl().Execute(w, v); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}

func title(r *Report) string {
	jobs := strings.Join(r.Jobs, ", ")
	if jobs == "" {
		jobs = "no jobs"
	}
	if r.Kind == "plan" {
		return "Migration plan: " + jobs
	}
	return "Migration report: " + jobs
}

func capReasons(gs []ReasonGroup) []reasonView {
	out := make([]reasonView, 0, len(gs))
	for _, g := range gs {
		rv := reasonView{ReasonGroup: g, Items: g.Items.Top}
		if len(rv.Items) > htmlReasonRows {
			rv.Items = rv.Items[:htmlReasonRows]
		}
		rv.Left = int(g.Items.Len) - len(rv.Items)
		out = append(out, rv)
	}
	return out
}

// num formats a count (int or int64) with thin thousands separators:
// 12 345; negative means not recorded.
func num(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	}
	if n < 0 {
		return "–"
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2 Jan 2006")
}

// duration says how long, in words a person uses.
func duration(secs float64) string {
	switch {
	case secs <= 0:
		return "unknown"
	case secs < 60:
		return "under a minute"
	case secs < 3600:
		return fmt.Sprintf("about %.0f minutes", math.Ceil(secs/60))
	case secs < 48*3600:
		return fmt.Sprintf("about %.1f hours", secs/3600)
	}
	return fmt.Sprintf("about %.1f days", secs/86400)
}

// placeLines describes where a version was seen, one line per place, with
// the copies of one mail message in several mailboxes on one line.
func placeLines(ps []Place) []string {
	var out []string
	idx := map[string]int{}
	for _, p := range ps {
		if p.Kind != "mail" || p.MessageID == "" {
			out = append(out, p.Where)
			continue
		}
		box := p.Source + " " + p.Mailbox
		k := p.MessageID + "\x00" + p.Name
		if i, ok := idx[k]; ok {
			out[i] += ", " + box
			continue
		}
		idx[k] = len(out)
		out = append(out, fmt.Sprintf("message “%s” from %s, attachment %s; in %s", p.Subject, orUnknown(p.From), p.Name, box))
	}
	if len(out) > htmlPlaces {
		more := len(out) - htmlPlaces + 1
		out = append(out[:htmlPlaces-1], fmt.Sprintf("… and %d more places (see plan.json)", more))
	}
	return out
}

// plural is "1 document", "2 documents".
func plural(n any, word string) string {
	s := num(n)
	if s == "1" {
		return s + " " + word
	}
	return s + " " + word + "s"
}
