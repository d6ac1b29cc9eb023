package history_test

import (
	"encoding/json"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine/history"
)

// TestExportNamelessPart: a mail part whose name syncd made up (the source
// gave none) is exported with the contract's filename "", and a named part
// with its name, although history keeps the made-up name for display.
func TestExportNamelessPart(t *testing.T) {
	mail := func(id int64, name string, generated bool) history.Sighting {
		return history.Sighting{ID: id, Source: "mail", Kind: history.KindMail, Name: name,
			Lineage: connectors.Lineage{Kind: "mail", MailLineage: connectors.MailLineage{Account: "a@example.org",
				Mailbox: "INBOX", UID: uint32(id), MessageID: "<m@example.org>", Part: "2",
				NameGenerated: generated}}}
	}
	by := map[int64]history.Sighting{1: mail(1, "Figures Q1.pdf", true), 2: mail(2, "Figures Q1.pdf", false)}
	res := history.Result{Documents: []history.Document{{Key: "d", Name: "Figures Q1.pdf",
		Versions: []history.Version{{Key: "v", Seq: 1, Blob: "00", Sightings: []int64{1, 2}}}}}}
	raw, err := json.Marshal(history.Export(res, by))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Documents []struct {
			Versions []struct {
				Sightings []struct {
					UID      uint32  `json:"uid"`
					Filename *string `json:"filename"`
				} `json:"sightings"`
			} `json:"versions"`
		} `json:"documents"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{1: "", 2: "Figures Q1.pdf"}
	n := 0
	for _, s := range got.Documents[0].Versions[0].Sightings {
		if s.Filename == nil || *s.Filename != want[s.UID] {
			t.Errorf("uid %d: filename %v, want %q (%s)", s.UID, s.Filename, want[s.UID], raw)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d sightings exported: %s", n, raw)
	}
}
