package history

import (
	"slices"
	"sort"
	"time"
)

// clockSlack is how far a Date header may run ahead of the server's
// arrival time before it counts as a lying clock. Delivery takes seconds
// to minutes and servers keep time; a sender's clock further ahead is fast
// or set to the wrong zone.
const clockSlack = 10 * time.Minute

// sameMessageSpan is how far apart the Date headers of the copies of one
// Message-ID may be: further apart, the id does not name one message (a
// client that reuses ids), and its copies are left as they are.
const sameMessageSpan = 24 * time.Hour

// clockMsg is one mail message (the copies of one Message-ID) as the
// clock pass sees it.
type clockMsg struct {
	date     time.Time   // the earliest Date header of its copies
	latest   time.Time   // the latest: more than sameMessageSpan after date, not one message
	arrivals []time.Time // the servers' arrival times of its copies, sorted
	parents  []string    // In-Reply-To, then References from the nearest
	copies   []*Sighting
	t        time.Time // when it was sent, as the evidence says
	state    uint8     // 0 not yet, 1 being worked out, 2 done
}

// broken says the copies' dates disagree: the id does not name one message.
func (m *clockMsg) broken() bool { return m.latest.Sub(m.date) > sameMessageSpan }

// mailTimes works out when each mail message was sent from every clock the
// evidence offers, so that one lying clock cannot reorder a chain:
//
//   - the Date header is the sender's clock, used unless it is
//     contradicted;
//   - a Date later than the earliest arrival of a copy at a server
//     (INTERNALDATE, the server's clock) by more than clockSlack is a fast
//     clock or a wrong zone: the arrival is when it was sent;
//   - a reply dated before the message it answers (its In-Reply-To, else
//     the nearest of its References that was seen) was sent after it: at
//     the first arrival of one of its copies that is not before the
//     answered message, else a second after it. A slow clock or a wrong
//     zone in the other direction is caught this way.
//
// Arrival times alone never move a message later: a mailbox migrated to a
// new server has every message arriving on the migration day.
// mailTimes returns the corrected time of each mail sighting whose time
// changes, by sighting id; the input is not changed.
func mailTimes(ss []*Sighting, capped func(uint64) bool) map[int64]time.Time {
	msgs := map[string]*clockMsg{}
	fixed := map[int64]time.Time{}
	for _, s := range ss {
		if s.Kind != KindMail {
			continue
		}
		l := &s.Lineage
		date := l.Date
		if date.IsZero() {
			date = s.Time
		}
		id := normID(l.MessageID)
		if id == "" {
			// No thread to weigh it against: only the fast clock.
			if !l.Arrived.IsZero() && date.After(l.Arrived.Add(clockSlack)) && !s.Time.Equal(l.Arrived) {
				fixed[s.ID] = l.Arrived
			}
			continue
		}
		if capped(messageKey(s.Workspace, id)) {
			continue // an id so widely shared that it is no evidence
		}
		key := s.Workspace + "\x00" + id
		m := msgs[key]
		if m == nil {
			m = &clockMsg{date: date, latest: date}
			parent := func(p string) {
				if p := normID(p); p != "" && !capped(messageKey(s.Workspace, p)) {
					m.parents = appendUnique(m.parents, s.Workspace+"\x00"+p)
				}
			}
			for _, p := range l.InReplyTo {
				parent(p)
			}
			for i := len(l.References) - 1; i >= 0; i-- {
				parent(l.References[i])
			}
			msgs[key] = m
		}
		if date.Before(m.date) {
			m.date = date
		}
		if date.After(m.latest) {
			m.latest = date
		}
		if !l.Arrived.IsZero() {
			m.arrivals = append(m.arrivals, l.Arrived)
		}
		m.copies = append(m.copies, s)
	}
	keys := make([]string, 0, len(msgs))
	for k, m := range msgs {
		keys = append(keys, k)
		sort.Slice(m.arrivals, func(i, j int) bool { return m.arrivals[i].Before(m.arrivals[j]) })
		m.arrivals = slices.CompactFunc(m.arrivals, time.Time.Equal)
	}
	sort.Strings(keys)
	var resolve func(m *clockMsg)
	resolve = func(m *clockMsg) {
		if m.state != 0 {
			return // done, or a loop of references: taken as it is
		}
		m.state = 1
		m.t = m.date
		if len(m.arrivals) > 0 && m.date.After(m.arrivals[0].Add(clockSlack)) {
			m.t = m.arrivals[0]
		}
		for _, pk := range m.parents {
			p := msgs[pk]
			if p == nil || p.broken() {
				continue
			}
			resolve(p)
			if p.state == 2 && m.t.Before(p.t) {
				m.t = p.t.Add(time.Second)
				for _, a := range m.arrivals {
					if !a.Before(p.t) {
						m.t = a
						break
					}
				}
			}
			break // the nearest seen ancestor decides
		}
		m.state = 2
	}
	for _, k := range keys {
		m := msgs[k]
		if m.broken() {
			continue
		}
		resolve(m)
		if m.t.Equal(m.date) {
			continue
		}
		for _, s := range m.copies {
			if !s.Time.Equal(m.t) {
				fixed[s.ID] = m.t
			}
		}
	}
	return fixed
}

// recordSlack is how much later than a document's own record of its last
// save a file's time may be before the record dates the copy instead.
const recordSlack = time.Minute

// recordTimes dates each share or SharePoint copy by its document's own
// record of its last save (Content.Modified) when that is earlier than the
// copy's time: the version existed then, and whatever came later (a copy
// to a new filer that kept no times, a library moved by a migration tool,
// an old version saved from a mail long after) only copied it. It decides
// for each copy alone, so a rebuild of one component decides as a rebuild
// of the whole catalog. It returns the corrected times by sighting id.
func recordTimes(ss []*Sighting, contents map[string]Content) map[int64]time.Time {
	fixed := map[int64]time.Time{}
	for _, s := range ss {
		if s.Kind != KindShare && s.Kind != KindSharePoint || s.Time.IsZero() {
			continue
		}
		if m := contents[s.Blob].Modified; !m.IsZero() && m.Before(s.Time.Add(-recordSlack)) {
			fixed[s.ID] = m
		}
	}
	return fixed
}
