package history

import (
	"sort"
	"time"
)

// message is one mail message (all mailbox copies of one Message-ID) with
// its document attachments.
type message struct {
	id      string
	date    time.Time
	parents []string // In-Reply-To, then References from the nearest
	inner   []string // embedded (message/rfc822) message ids
	atts    []*attachment
}

type attachment struct {
	n       *node
	name    string
	part    string
	innerOf string // "" for a top-level attachment, else the embedded message id
}

// messages indexes the mail sightings by normalised Message-ID.
func (g *graph) messages() map[string]*message {
	msgs := map[string]*message{}
	for _, n := range g.nodes {
		if n.hub {
			continue // in so many messages that they are no evidence
		}
		for _, s := range n.sightings {
			l := s.Lineage
			if s.Kind != KindMail || normID(l.MessageID) == "" || g.capped(messageKey(n.ws, normID(l.MessageID))) {
				continue // no id, or one so widely shared that it is no evidence
			}
			key := n.ws + "\x00" + normID(l.MessageID)
			m := msgs[key]
			if m == nil {
				// The sighting's time: the Date header unless the clock
				// pass (mailTimes) found it lying.
				m = &message{id: key, date: s.Time}
				if m.date.IsZero() {
					m.date = l.Date
				}
				ref := func(list []string, id string) []string {
					if g.capped(messageKey(n.ws, normID(id))) {
						return list
					}
					return appendUnique(list, n.ws+"\x00"+normID(id))
				}
				for _, p := range l.InReplyTo {
					m.parents = ref(m.parents, p)
				}
				for i := len(l.References) - 1; i >= 0; i-- {
					m.parents = ref(m.parents, l.References[i])
				}
				for _, id := range l.InnerMessageIDs {
					m.inner = ref(m.inner, id)
				}
				msgs[key] = m
			}
			inner := ""
			if k := len(l.InnerMessageIDs); k > 0 {
				inner = n.ws + "\x00" + normID(l.InnerMessageIDs[k-1])
			}
			if !m.hasPart(l.Part, n) {
				m.atts = append(m.atts, &attachment{n: n, name: s.Name, part: l.Part, innerOf: inner})
			}
		}
	}
	for _, m := range msgs {
		sort.Slice(m.atts, func(i, j int) bool {
			if m.atts[i].part != m.atts[j].part {
				return m.atts[i].part < m.atts[j].part
			}
			return m.atts[i].n.idx < m.atts[j].n.idx
		})
	}
	return msgs
}

func (m *message) hasPart(part string, n *node) bool {
	for _, a := range m.atts {
		if a.n == n && (a.part == part || part == "") {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// threadEdges links each top-level attachment of a reply or forward to the
// matching attachment of the nearest ancestor message that has any.
func (g *graph) threadEdges() {
	msgs := g.messages()
	for _, id := range sortedKeys(msgs) {
		m := msgs[id]
		for _, a := range m.atts {
			if a.innerOf != "" {
				continue // an embedded message's attachment is that message's own
			}
			pm, cands, reason := parentAttachments(msgs, m)
			if len(cands) == 0 {
				continue
			}
			p, conf := matchAttachment(a, cands, len(m.topLevel()) == 1)
			if p == nil {
				continue
			}
			g.union(p.n, a.n)
			if p.n != a.n {
				g.edges = append(g.edges, edge{p.n, a.n, pm.date, m.date, reason, conf})
			}
		}
	}
}

func (m *message) topLevel() []*attachment {
	var out []*attachment
	for _, a := range m.atts {
		if a.innerOf == "" {
			out = append(out, a)
		}
	}
	return out
}

// parentAttachments finds the nearest ancestor message with attachments:
// In-Reply-To, then References, then messages embedded in m itself.
func parentAttachments(msgs map[string]*message, m *message) (*message, []*attachment, string) {
	for _, id := range m.parents {
		if p := msgs[id]; p != nil && len(p.atts) > 0 {
			return p, p.atts, ReasonMailReply
		}
	}
	for _, id := range m.inner {
		var cands []*attachment
		for _, a := range m.atts {
			if a.innerOf == id {
				cands = append(cands, a)
			}
		}
		if p := msgs[id]; p != nil && len(p.atts) > 0 {
			return p, p.atts, ReasonMailFwd
		}
		if len(cands) > 0 {
			return m, cands, ReasonMailFwd
		}
	}
	return nil, nil, ""
}

// matchAttachment picks the candidate a descends from: the same bytes, else
// the most similar text, else the same name family. It returns nil when
// nothing matches well enough.
func matchAttachment(a *attachment, cands []*attachment, single bool) (*attachment, float64) {
	var best *attachment
	bestScore := -1.0
	for _, c := range cands {
		if c.n == a.n {
			return c, 1
		}
		s := sim(a.n, c.n)
		score := s
		if sharedKey(a.n, c.n, true) {
			score += 0.3
		}
		if s < 0 && !sharedKey(a.n, c.n, true) && !(single && len(cands) == 1) {
			continue
		}
		if s >= 0 && s < threadJoin {
			continue
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	if best == nil {
		return nil, 0
	}
	conf := 0.85
	if s := sim(a.n, best.n); s >= 0 {
		conf = min(0.95, 0.6+s/2)
	}
	return best, conf
}
