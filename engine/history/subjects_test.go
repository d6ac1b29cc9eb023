package history_test

import (
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine/history"
)

func TestSubjectKey(t *testing.T) {
	for _, c := range []struct {
		in, key string
		reply   bool
	}{
		{"Budget 2025 forecast", "budget 2025 forecast", false},
		{"RE: Budget 2025 forecast", "budget 2025 forecast", true},
		{"Re: re: FW: Budget 2025 forecast", "budget 2025 forecast", true},
		{"SV: VS: AW: WG: Budget 2025 forecast", "budget 2025 forecast", true},
		{"Antw: Doorst: Budget 2025 forecast", "budget 2025 forecast", true},
		{"R: I: RIF: Budget 2025 forecast", "budget 2025 forecast", true},
		{"TR : RE : Budget 2025 forecast", "budget 2025 forecast", true}, // French: a space before the colon
		{"ATB: YML: Budget 2025 forecast", "budget 2025 forecast", true}, // Welsh
		{"VB: VL: Budget 2025 forecast", "budget 2025 forecast", true},
		{"RE[2]: Budget 2025 forecast", "budget 2025 forecast", true},
		{"Re^3: Budget 2025 forecast", "budget 2025 forecast", true},
		{"RE(4): Budget 2025 forecast", "budget 2025 forecast", true},
		{"RE: SV: [EXTERNAL] Fwd: FW: Budget 2025 forecast", "budget 2025 forecast", true},
		{"[EXTERNAL] Budget 2025 forecast", "budget 2025 forecast", false},
		{"[OFFICIAL-SENSITIVE] RE: Budget 2025 forecast", "budget 2025 forecast", true},
		{"OFFICIAL-SENSITIVE: Budget 2025 forecast", "budget 2025 forecast", false},
		{"RE: [SEC=OFFICIAL] Budget 2025 forecast", "budget 2025 forecast", true},
		{"*EXTERNAL* Budget   2025, forecast!", "budget 2025 forecast", false},
		{"Fwd: Update", "", true}, // too little to name a conversation
		{"RE: FYI", "", true},     // the same
		{"Documents", "", false},  // one word
		{"Re: ", "", true},        // nothing left
		{"Regional budget plan", "regional budget plan", false}, // "Re" inside a word is no prefix
		{"Iron supply contract", "iron supply contract", false},
		{"Trial plan for Q3", "trial plan for q3", false},
	} {
		k, r := history.SubjectKey(c.in)
		if k != c.key || r != c.reply {
			t.Errorf("SubjectKey(%q) = %q, %v; want %q, %v", c.in, k, r, c.key, c.reply)
		}
	}
}

// webmail adds one message from a client that sends no thread headers.
func (f *fixture) webmail(id, subject, from string, to []string, hours int, label, name string) {
	lin := connectors.Lineage{Kind: history.KindMail, MailLineage: connectors.MailLineage{Account: to[0],
		Mailbox: "INBOX", UID: uint32(f.nextID + 1), Part: "2", MessageID: "<" + id + ">", Subject: subject,
		From: from, To: to, Date: f.at(hours)}}
	f.add(history.Sighting{Source: "mail", Kind: history.KindMail, Blob: f.blobOf[label], Name: name,
		Path: "INBOX", Time: f.at(hours), Author: from, Lineage: lin})
}

// TestConversationBySubject: a webmail conversation without thread
// headers, prefixes in three languages and a gateway tag added on one
// side, each message with an edit under a new name (no name family), is
// one chain linked by its subject and people. A message under the same
// subject between other people, and a reply whose attachment matches
// nothing, are not linked by it.
func TestConversationBySubject(t *testing.T) {
	f := newFixture(t)
	body := newText(17, 12)
	f.doc("A", body)
	f.doc("B", body.edit(1, 2, 5))
	f.doc("C", body.edit(1, 2, 5).edit(2, 7, 9))
	f.doc("X", newText(99, 12)) // another paper altogether
	f.webmail("a", "Budget 2025 forecast", "alice@dept.gov", []string{"bob@partner.org"}, 0, "A", "Forecast.docx")
	f.webmail("b", "SV: [EXTERNAL] Budget 2025 forecast", "bob@partner.org", []string{"alice@dept.gov"}, 24, "B", "Figures from Bob.docx")
	f.webmail("c", "RE[2]: SV: Budget 2025 forecast", "alice@dept.gov", []string{"bob@partner.org", "carol@dept.gov"}, 48, "C", "Numbers agreed.docx")
	f.webmail("x", "AW: Budget 2025 forecast", "dan@elsewhere.org", []string{"erin@elsewhere.org"}, 30, "X", "Other.docx")
	v := f.rebuild()
	if !v.same("A", "B", "C") {
		t.Fatalf("the conversation is not one document")
	}
	if v.same("A", "X") {
		t.Errorf("a message between other people joined the conversation")
	}
	for child, parent := range map[string]string{"B": "A", "C": "B"} {
		if got := v.parents(child); len(got) != 1 || got[parent] != history.ReasonMailSubject {
			t.Errorf("parents of %s: %v, want %s by %s", child, got, parent, history.ReasonMailSubject)
		}
	}
}
