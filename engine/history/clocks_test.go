package history_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine/history"
)

// clockMsg is one message of a thread for the clock tests: its true time,
// the time its Date header says, and the servers' arrival times of its
// copies (the sender's Sent copy first), all in hours after the fixture's
// start; arrived nil means the server gave none.
type clockMsg struct {
	id, replyTo string
	date        float64
	arrived     []float64
	label       string
}

// clockThread adds a thread whose every message carries a new version of
// Plan.docx, each an edit of the one before.
func clockThread(f *fixture, msgs []clockMsg) {
	body := newText(7, 12)
	for i, m := range msgs {
		body = body.edit(int64(100+i), i%12)
		f.doc(m.label, body)
		copies := max(1, len(m.arrived))
		for c := range copies {
			lin := connectors.Lineage{Kind: history.KindMail, MailLineage: connectors.MailLineage{
				Account: fmt.Sprintf("acct%d", c), Mailbox: "INBOX", UID: uint32(f.nextID + 1), Part: "2",
				MessageID: "<" + m.id + ">", Subject: "Plan", Date: f.hours(m.date)}}
			if m.replyTo != "" {
				lin.InReplyTo = []string{"<" + m.replyTo + ">"}
			}
			if c < len(m.arrived) {
				lin.Arrived = f.hours(m.arrived[c])
			}
			f.add(history.Sighting{Source: "mail", Kind: history.KindMail, Blob: f.blobOf[m.label], Name: "Plan.docx",
				Path: "INBOX", Time: f.hours(m.date), Author: lin.Account, Lineage: lin})
		}
	}
}

func (f *fixture) hours(h float64) time.Time { return f.t0.Add(time.Duration(h * float64(time.Hour))) }

// TestLyingClocks: a chain of replies, each with a new version, where one
// message's Date header lies (the sender's clock slow, fast, or in the
// wrong zone; sometimes with no arrival time to weigh it against). The
// chain keeps its order: every version's parent is the one in the message
// it answers, and the versions are numbered in thread order. The true
// times are 0, 24, 48 and 72 hours.
func TestLyingClocks(t *testing.T) {
	for _, c := range []struct {
		name string
		msgs []clockMsg
		// times: each version's time in hours, as the rebuild should give it
		times []float64
	}{
		{"honest clocks", []clockMsg{
			{"a", "", 0, []float64{0, 0.01}, "A"},
			{"b", "a", 24, []float64{24, 24.01}, "B"},
			{"c", "b", 48, []float64{48, 48.01}, "C"},
			{"d", "c", 72, []float64{72, 72.01}, "D"},
		}, []float64{0, 24, 48, 72}},
		{"a reply from a PC a day slow (its Sent copy dated by the same clock)", []clockMsg{
			{"a", "", 0, []float64{0, 0.01}, "A"},
			{"b", "a", 24, []float64{24, 24.01}, "B"},
			{"c", "b", 20, []float64{20, 48.01}, "C"},
			{"d", "c", 72, []float64{72, 72.01}, "D"},
		}, []float64{0, 24, 48.01, 72}},
		{"a reply from a PC three days slow, before the thread began", []clockMsg{
			{"a", "", 0, []float64{0, 0.01}, "A"},
			{"b", "a", 24, []float64{24, 24.01}, "B"},
			{"c", "b", -24, []float64{48.01}, "C"},
			{"d", "c", 72, []float64{72, 72.01}, "D"},
		}, []float64{0, 24, 48.01, 72}},
		{"a PC two days fast", []clockMsg{
			{"a", "", 0, []float64{0, 0.01}, "A"},
			{"b", "a", 72, []float64{72, 24.01}, "B"},
			{"c", "b", 48, []float64{48, 48.01}, "C"},
			{"d", "c", 72, []float64{72, 72.01}, "D"},
		}, []float64{0, 24.01, 48, 72}},
		{"a Date in the wrong zone (five hours behind)", []clockMsg{
			{"a", "", 0, []float64{0, 0.01}, "A"},
			{"b", "a", 46, []float64{46, 46.01}, "B"},
			{"c", "b", 43, []float64{43, 48.01}, "C"},
			{"d", "c", 72, []float64{72, 72.01}, "D"},
		}, []float64{0, 46, 48.01, 72}},
		{"a slow clock and no arrival times: a second after the message it answers", []clockMsg{
			{"a", "", 0, nil, "A"},
			{"b", "a", 24, nil, "B"},
			{"c", "b", 20, nil, "C"},
			{"d", "c", 72, nil, "D"},
		}, []float64{0, 24, 24 + 1.0/3600, 72}},
		{"a mailbox migrated to a new server: every arrival on the migration day", []clockMsg{
			{"a", "", 0, []float64{500}, "A"},
			{"b", "a", 24, []float64{500}, "B"},
			{"c", "b", 48, []float64{500}, "C"},
			{"d", "c", 72, []float64{500}, "D"},
		}, []float64{0, 24, 48, 72}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			clockThread(f, c.msgs)
			before := make([]time.Time, len(f.in.Sightings))
			for i, s := range f.in.Sightings {
				before[i] = s.Time
			}
			v := f.rebuild()
			if !v.same("A", "B", "C", "D") || len(v.res.Documents) != 1 {
				t.Fatalf("the thread's versions are not one document: %d documents", len(v.res.Documents))
			}
			for child, parent := range map[string]string{"B": "A", "C": "B", "D": "C"} {
				if got := v.parents(child); len(got) != 1 || got[parent] == "" {
					t.Errorf("parents of %s: %v, want %s", child, got, parent)
				}
			}
			if got := v.parents("A"); len(got) != 0 {
				t.Errorf("A has parents %v, want none (the thread's root)", got)
			}
			for _, ver := range v.res.Documents[0].Versions {
				l := v.labelOf[ver.Blob]
				i := int(l[0] - 'A')
				if ver.Seq != i+1 {
					t.Errorf("%s is version %d, want %d", l, ver.Seq, i+1)
				}
				if want := f.hours(c.times[i]); !ver.Time.Equal(want) {
					t.Errorf("%s's time %s, want %s", l, ver.Time.Format(time.RFC3339), want.Format(time.RFC3339))
				}
			}
			for i, s := range f.in.Sightings {
				if !s.Time.Equal(before[i]) {
					t.Errorf("Rebuild changed its input: sighting %d's time %s, was %s", s.ID, s.Time, before[i])
				}
			}
		})
	}
}

// TestReusedMessageID: copies of one Message-ID whose Date headers are
// days apart are not one message (a client that reuses ids): no clock is
// corrected from them, and a reply to that id keeps its own time.
func TestReusedMessageID(t *testing.T) {
	f := newFixture(t)
	clockThread(f, []clockMsg{
		{"same", "", 0, []float64{0}, "A"},
		{"same", "", 240, []float64{240}, "B"},
		{"c", "same", 48, []float64{48}, "C"},
	})
	v := f.rebuild()
	for _, d := range v.res.Documents {
		for _, ver := range d.Versions {
			if l := v.labelOf[ver.Blob]; l == "C" && !ver.Time.Equal(f.hours(48)) {
				t.Errorf("C's time %s, want its own Date %s", ver.Time, f.hours(48))
			}
		}
	}
}

// TestShareTimesResetByACopy: six versions of a checklist on a share whose
// times were all reset to the minute the share was copied to a new filer
// (day 20), then the final mailed on day 6. Each file's own record of its
// last save (docProps/core.xml) gives the order: the versions are
// numbered as they were saved and the mailed final comes last, its parent
// the sixth. A record later than the file's time is not used.
func TestShareTimesResetByACopy(t *testing.T) {
	f := newFixture(t)
	body := newText(11, 12)
	labels := []string{"V1", "V2", "V3", "V4", "V5", "V6", "F"}
	for i, l := range labels {
		body = body.edit(int64(200+i), i%12)
		b := f.doc(l, body)
		c := f.in.Contents[b]
		c.Modified = f.at(24 * i)
		c.Revision = i + 1
		f.in.Contents[b] = c
	}
	copied := 20 * 24 * 60 // minutes: day 20
	for i, l := range labels[:6] {
		f.add(history.Sighting{Source: "share", Kind: history.KindShare, Blob: f.blobOf[l], Name: fmt.Sprintf("Checklist v%d.docx", i+1),
			Path: "Ops", Time: f.t0.Add(time.Duration(copied)*time.Minute + time.Duration(i)*time.Second), Lineage: connectors.Lineage{Kind: history.KindShare}})
	}
	f.mail("final", 6*24, "", nil, []string{"alice"}, mailAtt{"F", "Checklist v7.docx"})
	v := f.rebuild()
	if !v.same(labels...) || len(v.res.Documents) != 1 {
		t.Fatalf("%d documents, want the checklist's one", len(v.res.Documents))
	}
	for _, ver := range v.res.Documents[0].Versions {
		l := v.labelOf[ver.Blob]
		i := indexOfLabel(labels, l)
		if ver.Seq != i+1 {
			t.Errorf("%s is version %d, want %d", l, ver.Seq, i+1)
		}
		if want := f.at(24 * i); !ver.Time.Equal(want) {
			t.Errorf("%s's time %s, want its save %s", l, ver.Time, want)
		}
	}
	if got := v.parents("F"); len(got) != 1 || got["V6"] == "" {
		t.Errorf("the mailed final's parents %v, want V6", got)
	}

	// A record later than the file's time, or within a minute of it, is
	// not used: the file keeps its time.
	g := newFixture(t)
	for i, c := range []struct {
		label      string
		record, at time.Duration
	}{
		{"later", 100 * time.Hour, 72 * time.Hour},
		{"close", 72*time.Hour - 30*time.Second, 72 * time.Hour},
	} {
		b := g.doc(c.label, newText(int64(30+i), 12))
		ct := g.in.Contents[b]
		ct.Modified = g.t0.Add(c.record)
		g.in.Contents[b] = ct
		g.add(history.Sighting{Source: "share", Kind: history.KindShare, Blob: b, Name: fmt.Sprintf("Note %s.docx", c.label),
			Path: "Else", Time: g.t0.Add(c.at), Lineage: connectors.Lineage{Kind: history.KindShare}})
	}
	w := g.rebuild()
	for _, d := range w.res.Documents {
		for _, ver := range d.Versions {
			if l := w.labelOf[ver.Blob]; !ver.Time.Equal(g.at(72)) {
				t.Errorf("%s's time %s, want its file's %s", l, ver.Time, g.at(72))
			}
		}
	}
}

func indexOfLabel(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// TestMigratedLibrary: a SharePoint library migrated by a tool: each
// item's only version dated the migration hour. Their own save records
// order them before the final mailed earlier, which descends from the
// third.
func TestMigratedLibrary(t *testing.T) {
	f := newFixture(t)
	body := newText(13, 12)
	labels := []string{"P1", "P2", "P3", "F"}
	for i, l := range labels {
		body = body.edit(int64(300+i), i%12)
		b := f.doc(l, body)
		c := f.in.Contents[b]
		c.Modified = f.at(24 * i)
		f.in.Contents[b] = c
	}
	for i, l := range labels[:3] {
		f.sharepoint(fmt.Sprintf("item-%d", i), 1, l, 40*24) // migrated on day 40
	}
	f.mail("final", 3*24, "", nil, []string{"alice"}, mailAtt{"F", "Plan.docx"})
	v := f.rebuild()
	if !v.same(labels...) {
		t.Fatalf("not one document: %d documents", len(v.res.Documents))
	}
	for _, ver := range v.res.Documents[0].Versions {
		l := v.labelOf[ver.Blob]
		if want := indexOfLabel(labels, l) + 1; ver.Seq != want {
			t.Errorf("%s is version %d, want %d", l, ver.Seq, want)
		}
	}
	if got := v.parents("F"); len(got) != 1 || got["P3"] == "" {
		t.Errorf("the mailed final's parents %v, want P3", got)
	}
}
