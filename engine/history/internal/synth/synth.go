// Package synth generates large synthetic history inputs for benchmarks and
// equivalence tests: many documents whose versions leave realistic evidence
// (SharePoint version lists, mail threads copied into several mailboxes,
// share copies with edited names, generic names, shared boilerplate text)
// and bottom-k MinHash sketches of their texts. It is deterministic: the
// same Config gives the same Input.
package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"sort"
	"time"

	"github.com/syncd/syncd/engine/history"
)

// Config says how big a corpus to make.
type Config struct {
	Seed int64
	Docs int // number of true documents
	// MaxVersions caps versions per document (default 300: a few long-lived
	// spreadsheets get that many).
	MaxVersions int
	// Logos attaches a signature image (one of a few blobs without text,
	// "image001.png") to a third of the mail messages: blobs seen tens of
	// thousands of times.
	Logos bool
	// Habits adds, on top of the same corpus (the same documents,
	// versions and copies for the same Seed), the habits of real
	// departments that issue 22 names: mail from PCs whose clocks lie
	// (the server's arrival times true), webmail replies without thread
	// headers under prefixed subjects, share folders whose times a copy
	// reset (each Office file's own save record true), and copy names of
	// other languages and OneDrive's conflict copies (habits.go).
	Habits bool
}

// Truth maps each blob to the true document it belongs to.
type Truth map[string]int

// Parents maps each blob to the blob of its true parent version (absent
// for a first version).
type Parents map[string]string

const sketchK = 512

var (
	words = []string{"estates", "cost", "model", "payroll", "migration", "cutover", "risk", "register", "board",
		"budget", "supplier", "contract", "service", "transition", "quality", "legacy", "ledger", "staff",
		"engagement", "integration", "platform", "timeline", "forecast", "savings", "benefits", "approval",
		"readiness", "training", "option", "policy", "guidance", "digital", "workplace", "commercial", "north",
		"south", "capital", "revenue", "pension", "audit", "housing", "transport", "schools", "waste", "parking",
		"library", "leisure", "planning", "licensing", "highways", "grants", "energy", "carbon", "fleet"}
	generic    = []string{"Minutes", "Agenda", "Report", "Notes", "Summary", "Document1", "Scan", "Action Log"}
	exts       = []string{"docx", "xlsx", "pptx", "pdf", "docx", "docx"}
	workspaces = []string{"default", "default", "finance", "legal"}
	initials   = []string{"JB", "CM", "AK", "PR", "TW", "LS"}
)

// gen holds the state of one generation.
type gen struct {
	r          *rand.Rand
	in         history.Input
	truth      Truth
	parents    Parents
	boiler     []uint64 // boilerplate shingles shared by many documents
	t0         time.Time
	msgSeq     int
	sightings  []history.Sighting
	accounts   []string
	maxVersion int
	logos      []string
	titles     map[int]string // document -> title
}

// Generate makes the corpus.
func Generate(cfg Config) (history.Input, Truth) {
	in, truth, _ := GenerateWithParents(cfg)
	return in, truth
}

// GenerateWithParents makes the corpus and also says each version's true
// parent.
func GenerateWithParents(cfg Config) (history.Input, Truth, Parents) {
	g := &gen{r: rand.New(rand.NewSource(cfg.Seed)), truth: Truth{}, parents: Parents{},
		in: history.Input{Contents: map[string]history.Content{}}, t0: time.Date(2021, 1, 4, 8, 0, 0, 0, time.UTC),
		maxVersion: cfg.MaxVersions}
	if g.maxVersion <= 0 {
		g.maxVersion = 300
	}
	for range 200 {
		g.boiler = append(g.boiler, g.r.Uint64())
	}
	for i := range 40 {
		g.accounts = append(g.accounts, fmt.Sprintf("person%02d@example.org", i))
	}
	if cfg.Logos {
		for i := range 3 {
			sum := sha256.Sum256(fmt.Appendf(nil, "logo %d", i))
			g.logos = append(g.logos, hex.EncodeToString(sum[:]))
			g.truth[g.logos[i]] = -1 - i
			g.in.Contents[g.logos[i]] = history.Content{Blob: g.logos[i], Kind: "png"}
		}
	}
	g.titles = map[int]string{}
	for d := range cfg.Docs {
		g.document(d)
	}
	if cfg.Habits {
		g.habits(cfg.Seed)
	}
	sort.SliceStable(g.sightings, func(i, j int) bool { return g.sightings[i].Time.Before(g.sightings[j].Time) })
	for i := range g.sightings {
		g.sightings[i].ID = int64(i + 1)
	}
	g.in.Sightings = g.sightings
	return g.in, g.truth, g.parents
}

// version is one true version of a document.
type version struct {
	blob   string
	parent int // index of the parent version, -1 for the first
	set    []uint64
	time   time.Time
	name   string
	msg    string // Message-ID of the mail that carried it, if any
}

func (g *gen) versionCount() int {
	switch x := g.r.Float64(); {
	case x < 0.005:
		return min(g.maxVersion, 100+g.r.Intn(201))
	case x < 0.05:
		return min(g.maxVersion, 15+g.r.Intn(30))
	default:
		return 1 + g.r.Intn(8)
	}
}

func (g *gen) document(d int) {
	r := g.r
	ws := workspaces[r.Intn(len(workspaces))]
	ext := exts[r.Intn(len(exts))]
	title := g.title(r.Float64() < 0.08)
	g.titles[d] = title
	withText := ext != "pdf" || r.Float64() < 0.7
	start := g.t0.Add(time.Duration(r.Int63n(int64(3 * 365 * 24 * time.Hour))))
	n := g.versionCount()
	vs := make([]version, n)
	base := g.text(40 + r.Intn(3000))
	for i := range vs {
		v := &vs[i]
		v.parent = i - 1
		if i > 1 && r.Float64() < 0.1 {
			v.parent = r.Intn(i - 1) // a fork from an older version
		}
		if i == 0 {
			v.set = base
			v.time = start
		} else {
			v.set = g.edit(vs[v.parent].set)
			v.time = vs[i-1].time.Add(time.Duration(1+r.Intn(72)) * time.Hour)
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "doc %d version %d", d, i))
		v.blob = hex.EncodeToString(sum[:])
		v.name = g.variant(title, ext, i)
		g.truth[v.blob] = d
		if v.parent >= 0 {
			g.parents[v.blob] = vs[v.parent].blob
		}
		c := history.Content{Blob: v.blob, Kind: ext}
		if withText {
			c.Sketch, c.Tokens = bottomK(v.set), len(v.set)+3
		}
		g.in.Contents[v.blob] = c
	}
	switch x := r.Float64(); {
	case x < 0.3:
		g.sharePoint(d, ws, title, ext, vs)
	case x < 0.85:
		g.mailThread(ws, vs)
	default:
		g.shareOnly(ws, vs)
	}
	g.shareCopies(ws, vs)
}

func (g *gen) title(isGeneric bool) string {
	if isGeneric {
		return generic[g.r.Intn(len(generic))]
	}
	n := 2 + g.r.Intn(3)
	t := ""
	for i := range n {
		w := words[g.r.Intn(len(words))]
		if i == 0 {
			w = string(w[0]-32) + w[1:]
		}
		if t != "" {
			t += " "
		}
		t += w
	}
	return t
}

// variant is how people name version i of a document.
func (g *gen) variant(title, ext string, i int) string {
	switch g.r.Intn(6) {
	case 0:
		return title + "." + ext
	case 1:
		return fmt.Sprintf("%s v%d.%s", title, i+1, ext)
	case 2:
		return fmt.Sprintf("%s v%d %s.%s", title, i+1, initials[g.r.Intn(len(initials))], ext)
	case 3:
		return fmt.Sprintf("%s FINAL (%d).%s", title, 1+g.r.Intn(3), ext)
	case 4:
		return fmt.Sprintf("Copy of %s.%s", title, ext)
	default:
		return fmt.Sprintf("%s_v%d_draft.%s", title, i+1, ext)
	}
}
