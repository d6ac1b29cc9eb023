package synth

import (
	"math/rand"
	"slices"
	"strings"
	"time"

	"github.com/syncd/syncd/engine/history"
)

// habits rewrites the generated corpus with the habits of real
// departments (Config.Habits). It draws from a random source of its own,
// so the documents, versions and copies stay those of the same seed
// without habits, and the two can be scored side by side.
func (g *gen) habits(seed int64) {
	h := rand.New(rand.NewSource(seed ^ 0x5eed22))
	ss := g.sightings
	// Every Office file records its last save: its version's time (the
	// first time the blob was seen, before any habit).
	first := map[string]time.Time{}
	for _, s := range ss {
		if t, ok := first[s.Blob]; !ok || s.Time.Before(t) {
			first[s.Blob] = s.Time
		}
	}
	for b, c := range g.in.Contents {
		if t, ok := first[b]; ok && (c.Kind == "docx" || c.Kind == "xlsx" || c.Kind == "pptx") {
			c.Modified = t
			g.in.Contents[b] = c
		}
	}
	g.mailHabits(h, ss)
	g.shareHabits(h, ss)
}

// prefixes are the subjects' reply prefixes of many clients and gateways.
var prefixes = []string{"RE: ", "Re: ", "SV: ", "AW: ", "Antw: ", "R: ", "TR : ", "RE[2]: ", "RE: SV: [EXTERNAL] ",
	"[OFFICIAL-SENSITIVE] RE: ", "ATB: ", "VS: ", "Re^2: "}

// mailHabits: every message's subject is its document's title (with a
// reply prefix on a reply); the server's arrival time is a minute after
// it was sent; one message in twenty comes from a PC whose clock lies (a
// day slow, two days fast, or five hours behind in the wrong zone), its
// Sent copy dated by the same clock; one reply in ten comes from webmail
// that sends no thread headers (to the person it answers).
func (g *gen) mailHabits(h *rand.Rand, ss []history.Sighting) {
	type msg struct {
		idx  []int
		from string
		irt  string
	}
	msgs := map[string]*msg{}
	var order []string
	for i := range ss {
		s := &ss[i]
		if s.Kind != history.KindMail {
			continue
		}
		m := msgs[s.Lineage.MessageID]
		if m == nil {
			m = &msg{from: s.Lineage.From}
			if len(s.Lineage.InReplyTo) > 0 {
				m.irt = s.Lineage.InReplyTo[0]
			}
			msgs[s.Lineage.MessageID] = m
			order = append(order, s.Lineage.MessageID)
		}
		m.idx = append(m.idx, i)
	}
	lies := []time.Duration{-26 * time.Hour, 48 * time.Hour, -5 * time.Hour}
	for _, id := range order {
		m := msgs[id]
		at := ss[m.idx[0]].Time
		subject := g.titles[g.truth[ss[m.idx[0]].Blob]]
		if m.irt != "" {
			subject = prefixes[h.Intn(len(prefixes))] + subject
		}
		var shift time.Duration
		if h.Float64() < 0.05 {
			shift = lies[h.Intn(len(lies))]
		}
		answered := ""
		if m.irt != "" && h.Float64() < 0.1 {
			if p := msgs[m.irt]; p != nil {
				answered = p.from
			}
		}
		for _, i := range m.idx {
			l := &ss[i].Lineage
			l.Subject = subject
			l.Arrived = at.Add(time.Minute)
			if shift != 0 {
				l.Date, ss[i].Time = at.Add(shift), at.Add(shift)
				if l.Account == l.From {
					l.Arrived = l.Date // the Sent copy, dated by the sender's clock
				}
			}
			if answered != "" {
				l.InReplyTo, l.References = nil, nil
				if answered != l.From && !slices.Contains(l.To, answered) {
					l.To = append(slices.Clip(l.To), answered)
				}
			}
		}
	}
}

// copyNames are how other clients and OneDrive name a copy.
var copyNames = []func(stem, ext string) string{
	func(stem, ext string) string { return "Kopie von " + stem + ext },
	func(stem, ext string) string { return "Copie de " + stem + ext },
	func(stem, ext string) string { return "Copia di " + stem + ext },
	func(stem, ext string) string { return stem + " - Kopie" + ext },
	func(stem, ext string) string { return stem + " - Copie (2)" + ext },
	func(stem, ext string) string { return stem + "-DESKTOP-4F2K9" + ext },
	func(stem, ext string) string { return stem + "-JohnSmith" + ext },
	func(stem, ext string) string { return stem + " (2) (1)" + ext },
}

// shareHabits: one share folder in five was copied to a new filer that
// kept no times (every file dated the minute of the copy, a month after
// its newest file); one share file in twelve has a copy name of another
// language or OneDrive's.
func (g *gen) shareHabits(h *rand.Rand, ss []history.Sighting) {
	folders := map[string][]int{}
	var order []string
	for i := range ss {
		if ss[i].Kind != history.KindShare {
			continue
		}
		p := ss[i].Path
		if folders[p] == nil {
			order = append(order, p)
		}
		folders[p] = append(folders[p], i)
		if h.Float64() < 1.0/12 {
			name := ss[i].Name
			ext := ""
			if j := strings.LastIndexByte(name, '.'); j > 0 {
				name, ext = name[:j], name[j:]
			}
			ss[i].Name = copyNames[h.Intn(len(copyNames))](name, ext)
		}
	}
	for _, p := range order {
		if h.Float64() >= 0.2 {
			continue
		}
		var newest time.Time
		for _, i := range folders[p] {
			if ss[i].Time.After(newest) {
				newest = ss[i].Time
			}
		}
		copied := newest.Add(30 * 24 * time.Hour).Truncate(time.Minute)
		for j, i := range folders[p] {
			ss[i].Time = copied.Add(time.Duration(j%60) * time.Second)
		}
	}
}
