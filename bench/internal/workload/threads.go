package workload

import (
	"fmt"
	"time"
)

var projects = []string{"Alpha", "Beta", "Estates", "Digital"}

// threads writes every thread: a first message carrying a document,
// replies (some keep the attachment, some carry the next version),
// forwards to someone new, and the large-attachment threads.
func (g *mailGen) threads(s Spec, pool []Doc) error {
	accts := s.AccountNames()
	in := map[string]bool{}
	for _, a := range accts {
		in[a] = true
	}
	for t := range s.Threads {
		doc := pool[g.r.IntN(s.Docs)]
		if err := g.thread(t, accts, in, doc, g.r.IntN(5)); err != nil {
			return err
		}
	}
	for i := range s.LargeMail {
		if err := g.thread(s.Threads+i, accts, in, pool[s.Docs+i], -1); err != nil {
			return err
		}
	}
	return nil
}

// project picks a project folder: one of the four named ones, or of
// Spec.Projects numbered ones.
func (g *mailGen) project() string {
	if g.projects <= 0 {
		return projects[g.r.IntN(len(projects))]
	}
	return fmt.Sprintf("Project %02d", 1+g.r.IntN(g.projects))
}

func (g *mailGen) participants(accts []string) []string {
	n := min(len(accts), 2+g.r.IntN(3))
	perm := g.r.Perm(len(accts))
	out := make([]string, 0, n+1)
	for _, i := range perm[:n] {
		out = append(out, accts[i])
	}
	if g.r.IntN(4) == 0 {
		out = append(out, "partner") // outside the department: not synced
	}
	return out
}

// thread writes one thread about doc with the given number of replies
// (-1: a large-attachment thread, which is forwarded once).
func (g *mailGen) thread(t int, accts []string, in map[string]bool, doc Doc, replies int) error {
	people := g.participants(accts)
	folder := "INBOX"
	if g.r.IntN(4) == 0 {
		folder = "Projects/" + g.project()
	}
	date := epoch.Add(time.Duration(t) * 3 * time.Hour)
	first := &msg{
		id: fmt.Sprintf("t%d.0@%s", t, Domain), from: people[0], to: people[1:],
		subject: doc.Title, date: date, atts: []attachment{{doc, 1}}, folder: folder,
	}
	if replies >= 0 && g.r.IntN(5) == 0 {
		extra := Doc{ID: doc.ID, Title: doc.Title + " Annex", Ext: ".pdf", Size: doc.Size/3 + 8<<10, seed: doc.seed ^ 0xa11e}
		first.atts = append(first.atts, attachment{extra, 1})
	}
	if err := g.deliver(first, in); err != nil {
		return err
	}
	prev, version := first, 1
	if replies < 0 {
		return g.deliver(g.forward(prev, t, 1, accts, people), in)
	}
	for k := 1; k <= replies; k++ {
		var next *msg
		switch kind := g.r.IntN(10); {
		case kind == 9:
			next = g.forward(prev, t, k, accts, people)
		default:
			next = g.reply(prev, t, k, people)
			switch {
			case kind >= 7:
				version++
				next.atts = []attachment{{doc, version}}
			case kind >= 5:
				next.atts = prev.atts // replied to with the attachment kept
			}
		}
		if len(next.atts) == 0 && prev.from == "partner" {
			next.atts = prev.atts
		}
		if err := g.deliver(next, in); err != nil {
			return err
		}
		prev = next
	}
	return nil
}

func (g *mailGen) reply(prev *msg, t, k int, people []string) *msg {
	from := people[g.r.IntN(len(people))]
	if from == prev.from {
		from = people[(indexOf(people, from)+1)%len(people)]
	}
	var to []string
	for _, p := range people {
		if p != from {
			to = append(to, p)
		}
	}
	return &msg{
		id: fmt.Sprintf("t%d.%d@%s", t, k, Domain), inReplyTo: prev.id, refs: append(append([]string{}, prev.refs...), prev.id),
		from: from, to: to, subject: "RE: " + trimPrefix(prev.subject), date: prev.date.Add(time.Duration(20+g.r.IntN(600)) * time.Minute),
		folder: prev.folder,
	}
}

// forward sends the previous message's attachments to someone not yet in
// the thread (or back to the first author).
func (g *mailGen) forward(prev *msg, t, k int, accts, people []string) *msg {
	to := people[0]
	for _, i := range g.r.Perm(len(accts)) {
		if indexOf(people, accts[i]) < 0 {
			to = accts[i]
			break
		}
	}
	from := prev.to[0]
	if from == to {
		from = prev.from
	}
	return &msg{
		id: fmt.Sprintf("t%d.%d@%s", t, k, Domain), inReplyTo: prev.id, refs: append(append([]string{}, prev.refs...), prev.id),
		from: from, to: []string{to}, subject: "FW: " + trimPrefix(prev.subject),
		date: prev.date.Add(time.Duration(60+g.r.IntN(2000)) * time.Minute), atts: prev.atts, folder: "INBOX",
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func trimPrefix(s string) string {
	for len(s) > 4 && (s[:4] == "RE: " || s[:4] == "FW: ") {
		s = s[4:]
	}
	return s
}
