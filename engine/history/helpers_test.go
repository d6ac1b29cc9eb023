package history_test

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/textsketch"
)

var vocab = strings.Fields(`programme payroll finance migration cutover risk register board budget supplier
	contract service transition data quality legacy ledger staff engagement integration platform timeline
	forecast savings benefits tracked monthly reported approval readiness training plan option recommend
	minutes agenda attendees apologies actions estates digital workplace commercial policy guidance`)

// text is a deterministic document body of n sentences.
type text []string

func newText(seed int64, n int) text {
	r := rand.New(rand.NewSource(seed))
	t := make(text, n)
	for i := range t {
		w := make([]string, 12+r.Intn(8))
		for j := range w {
			w[j] = vocab[r.Intn(len(vocab))]
		}
		t[i] = strings.Join(w, " ") + "."
	}
	return t
}

// edit replaces the sentences at the given positions with fresh ones.
func (t text) edit(seed int64, at ...int) text {
	out := append(text(nil), t...)
	fresh := newText(seed, len(at))
	for i, p := range at {
		out[p] = fresh[i]
	}
	return out
}

func (t text) bytes() []byte { return []byte(strings.Join(t, "\n")) }

// fixture accumulates sightings and contents.
type fixture struct {
	t        *testing.T
	in       history.Input
	nextID   int64
	byBlob   map[string]string
	t0       time.Time
	blobOf   map[string]string // label -> blob
	lastBlob string
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, in: history.Input{Contents: map[string]history.Content{}}, byBlob: map[string]string{},
		blobOf: map[string]string{}, t0: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)}
}

// blob registers content under a label and returns its sha256.
func (f *fixture) blob(label string, body []byte, withText bool) string {
	if b, ok := f.blobOf[label]; ok {
		return b
	}
	sum := sha256.Sum256(body)
	b := hex.EncodeToString(sum[:])
	if withText {
		c, err := textsketch.Sketch(label+".txt", strings.NewReader(string(body)), int64(len(body)))
		if err != nil {
			f.t.Fatal(err)
		}
		f.in.Contents[b] = c
	}
	f.blobOf[label] = b
	return b
}

func (f *fixture) at(hours int) time.Time { return f.t0.Add(time.Duration(hours) * time.Hour) }

// doc registers a text version under a label.
func (f *fixture) doc(label string, t text) string { return f.blob(label, t.bytes(), true) }

func (f *fixture) add(s history.Sighting) int64 {
	f.nextID++
	s.ID = f.nextID
	if s.Workspace == "" {
		s.Workspace = "default"
	}
	s.Size = 100
	f.in.Sightings = append(f.in.Sightings, s)
	return s.ID
}

type mailAtt struct{ label, name string }

// mail adds one message (one mailbox copy per account) with attachments.
func (f *fixture) mail(id string, hours int, inReplyTo string, refs []string, accounts []string, atts ...mailAtt) {
	for _, acct := range accounts {
		for i, a := range atts {
			lin := connectors.Lineage{Kind: history.KindMail, MailLineage: connectors.MailLineage{Account: acct,
				Mailbox: "INBOX", UID: uint32(f.nextID + 1), Part: string(rune('2' + i)),
				MessageID: "<" + id + ">", Subject: "s", Date: f.at(hours)}}
			if inReplyTo != "" {
				lin.InReplyTo = []string{inReplyTo}
			}
			lin.References = refs
			f.add(history.Sighting{Source: "mail", Kind: history.KindMail, Blob: f.blobOf[a.label], Name: a.name,
				Path: "INBOX", Time: f.at(hours), Author: acct, Lineage: lin})
		}
	}
}

func (f *fixture) share(label, folder, name string, hours int) {
	f.add(history.Sighting{Source: "share", Kind: history.KindShare, Blob: f.blobOf[label], Name: name, Path: folder,
		Time: f.at(hours), Lineage: connectors.Lineage{Kind: history.KindShare}})
}

func (f *fixture) sharepoint(item string, index int, label string, hours int) {
	f.add(history.Sighting{Source: "sp", Kind: history.KindSharePoint, Blob: f.blobOf[label], Name: item + ".docx",
		Path: "Documents", Time: f.at(hours), Author: "sp@example.org", Lineage: connectors.Lineage{
			Kind: history.KindSharePoint, SharePointLineage: connectors.SharePointLineage{
				ItemID: item, VersionID: string(rune('0'+index)) + ".0", VersionIndex: index}}})
}

// view is a Result reduced to labels for assertions.
type view struct {
	res     history.Result
	labelOf map[string]string // blob -> label
}

func (f *fixture) rebuild() view {
	v := view{res: history.Rebuild(f.in), labelOf: map[string]string{}}
	for l, b := range f.blobOf {
		v.labelOf[b] = l
	}
	return v
}

// docOf returns the index of the document holding label's (first) version.
func (v view) docOf(label string) int {
	for i, d := range v.res.Documents {
		for _, ver := range d.Versions {
			if v.labelOf[ver.Blob] == label {
				return i
			}
		}
	}
	return -1
}

func (v view) same(labels ...string) bool {
	d := v.docOf(labels[0])
	for _, l := range labels[1:] {
		if v.docOf(l) != d {
			return false
		}
	}
	return d >= 0
}

// parents returns the labels (with reasons) of the parents of the version
// with the given key suffix rule: label, or label+"#2" for a revert.
func (v view) parents(label string) map[string]string {
	want, epoch := label, 0
	if i := strings.Index(label, "#"); i >= 0 {
		want, epoch = label[:i], 1
	}
	for _, d := range v.res.Documents {
		keyOf := map[string]string{}
		for _, ver := range d.Versions {
			l := v.labelOf[ver.Blob]
			if strings.Contains(ver.Key, "-r") {
				l += "#2"
			}
			keyOf[ver.Key] = l
		}
		for _, ver := range d.Versions {
			isRevert := strings.Contains(ver.Key, "-r")
			if v.labelOf[ver.Blob] != want || isRevert != (epoch == 1) {
				continue
			}
			out := map[string]string{}
			for _, p := range ver.Parents {
				out[keyOf[p.Parent]] = p.Reason
			}
			return out
		}
	}
	return nil
}
