package synth

import (
	"fmt"
	"sort"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine/history"
)

// text is a fresh shingle set of n shingles with some boilerplate.
func (g *gen) text(n int) []uint64 {
	set := make([]uint64, 0, n+8)
	for range 8 {
		set = append(set, g.boiler[g.r.Intn(len(g.boiler))])
	}
	for range n {
		set = append(set, g.r.Uint64())
	}
	return set
}

// edit removes and adds a few percent of the shingles.
func (g *gen) edit(parent []uint64) []uint64 {
	out := append([]uint64(nil), parent...)
	changes := max(2, len(out)*(2+g.r.Intn(6))/100)
	for range changes / 2 {
		if len(out) > 10 {
			i := g.r.Intn(len(out))
			out[i] = out[len(out)-1]
			out = out[:len(out)-1]
		}
	}
	for range changes - changes/2 {
		out = append(out, g.r.Uint64())
	}
	return out
}

// bottomK is the sketch textsketch would make of the set.
func bottomK(set []uint64) []uint64 {
	s := append([]uint64(nil), set...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	if len(out) > sketchK {
		out = out[:sketchK]
	}
	return append([]uint64(nil), out...)
}

func (g *gen) add(s history.Sighting) {
	s.Size = 1000 + int64(g.r.Intn(100000))
	g.sightings = append(g.sightings, s)
}

func (g *gen) person() string { return g.accounts[g.r.Intn(len(g.accounts))] }

// sharePoint records the document's versions as one SharePoint item, some
// of them also mailed out.
func (g *gen) sharePoint(d int, ws, title, ext string, vs []version) {
	item := fmt.Sprintf("ITEM%06d", d)
	idx := 0
	for _, v := range vs {
		idx++
		lin := connectors.Lineage{Kind: history.KindSharePoint, SharePointLineage: connectors.SharePointLineage{
			ItemID: item, VersionID: fmt.Sprintf("%d.0", idx), VersionIndex: idx}}
		g.add(history.Sighting{Source: "sp", Kind: history.KindSharePoint, Blob: v.blob, Name: title + "." + ext,
			Path: "Shared Documents/Team", Time: v.time, Author: g.person(), Workspace: ws, Lineage: lin})
		if g.r.Float64() < 0.05 { // properties-only change: same bytes again
			idx++
			lin.VersionIndex, lin.VersionID = idx, fmt.Sprintf("%d.0", idx)
			g.add(history.Sighting{Source: "sp", Kind: history.KindSharePoint, Blob: v.blob, Name: title + "." + ext,
				Path: "Shared Documents/Team", Time: v.time.Add(time.Hour), Workspace: ws, Lineage: lin})
		}
		if g.r.Float64() < 0.3 {
			g.message(ws, v, "", nil, v.time.Add(2*time.Hour))
		}
	}
}

// mailThread sends each version as a reply to the message that carried its
// parent; each message lands in several mailboxes.
func (g *gen) mailThread(ws string, vs []version) {
	refs := make([][]string, len(vs))
	for i := range vs {
		v := &vs[i]
		var irt string
		var chain []string
		if v.parent >= 0 && g.r.Float64() < 0.92 {
			irt = vs[v.parent].msg
			chain = append(append([]string(nil), refs[v.parent]...), irt)
		}
		v.msg = g.message(ws, *v, irt, chain, v.time)
		refs[i] = chain
		if g.r.Float64() < 0.1 { // forwarded later as a fresh message
			g.message(ws, *v, "", nil, v.time.Add(30*time.Hour))
		}
	}
}

// message adds one mail message carrying v to 2-4 mailboxes and returns its
// Message-ID.
func (g *gen) message(ws string, v version, inReplyTo string, refs []string, at time.Time) string {
	g.msgSeq++
	id := fmt.Sprintf("<m%d@synth.example.org>", g.msgSeq)
	from := g.person()
	logo := ""
	if len(g.logos) > 0 && g.r.Float64() < 0.33 {
		logo = g.logos[g.r.Intn(len(g.logos))]
	}
	first := len(g.sightings)
	var to []string
	for k := range 2 + g.r.Intn(3) {
		acct := from
		if k > 0 {
			acct = g.person()
			to = append(to, acct)
		}
		lin := connectors.Lineage{Kind: history.KindMail, MailLineage: connectors.MailLineage{Account: acct,
			Mailbox: "INBOX", UID: uint32(g.msgSeq*8 + k), Part: "2", MessageID: id, Subject: "Re: " + v.name,
			From: from, Date: at}}
		if inReplyTo != "" {
			lin.InReplyTo = []string{inReplyTo}
			lin.References = refs
		}
		g.add(history.Sighting{Source: "mail", Kind: history.KindMail, Blob: v.blob, Name: v.name, Path: "INBOX",
			Time: at, Author: from, Workspace: ws, Lineage: lin})
		if logo != "" {
			lin.Part = "3"
			g.add(history.Sighting{Source: "mail", Kind: history.KindMail, Blob: logo, Name: "image001.png",
				Path: "INBOX", Time: at, Author: from, Workspace: ws, Lineage: lin})
		}
	}
	for i := first; i < len(g.sightings); i++ {
		g.sightings[i].Lineage.To = to // every copy names every recipient
	}
	return id
}

// shareOnly saves every version as a file of its own in one folder.
func (g *gen) shareOnly(ws string, vs []version) {
	folder := fmt.Sprintf("Teams/%s", words[g.r.Intn(len(words))])
	for _, v := range vs {
		g.add(history.Sighting{Source: "share", Kind: history.KindShare, Blob: v.blob, Name: v.name, Path: folder,
			Time: v.time, Workspace: ws, Lineage: connectors.Lineage{Kind: history.KindShare}})
	}
}

// shareCopies copies the latest version (and sometimes an older one) to an
// archive folder under an edited name.
func (g *gen) shareCopies(ws string, vs []version) {
	if g.r.Float64() > 0.4 {
		return
	}
	last := vs[len(vs)-1]
	folder := fmt.Sprintf("Archive/%d", last.time.Year())
	g.add(history.Sighting{Source: "share", Kind: history.KindShare, Blob: last.blob, Name: last.name, Path: folder,
		Time: last.time.Add(48 * time.Hour), Workspace: ws, Lineage: connectors.Lineage{Kind: history.KindShare}})
	if len(vs) > 2 && g.r.Float64() < 0.3 {
		old := vs[g.r.Intn(len(vs)-1)]
		g.add(history.Sighting{Source: "share", Kind: history.KindShare, Blob: old.blob, Name: "Copy of " + old.name,
			Path: folder, Time: last.time.Add(72 * time.Hour), Workspace: ws,
			Lineage: connectors.Lineage{Kind: history.KindShare}})
	}
}
