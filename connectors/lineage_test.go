package connectors_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
)

// TestLineageJSON pins the stored form of a lineage (the sightings table's
// lineage column): one flat object, a key per field, only the fields set,
// in this order. Catalogs hold it: it must not change.
func TestLineageJSON(t *testing.T) {
	var mail connectors.Lineage
	mail.Kind = "mail"
	mail.Account, mail.Mailbox, mail.UIDValidity, mail.UID, mail.Part = "a@example.org", "INBOX", 7, 42, "2.1"
	mail.MessageID, mail.InReplyTo, mail.References = "<m2@x>", []string{"<m1@x>"}, []string{"<m0@x>", "<m1@x>"}
	mail.Subject, mail.From, mail.To, mail.Cc = "Re: budget", "b@example.org", []string{"a@example.org"}, []string{"c@example.org"}
	mail.Date = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	mail.InnerMessageIDs, mail.InnerSubject, mail.NameGenerated = []string{"<in@x>"}, "Fwd: old", true

	var share connectors.Lineage
	share.Kind, share.Remote, share.Owner = "share", "/srv/finance", "alice"

	var sp connectors.Lineage
	sp.Kind, sp.Site, sp.Drive, sp.DriveName = "sharepoint", "contoso.sharepoint.com,1,2", "b!drive", "Documents"
	sp.ItemID, sp.VersionID, sp.VersionIndex, sp.Current = "01ITEM", "3.0", 3, true

	every := mail // no connector sets all of them; the order must hold anyway
	every.Remote, every.Owner = share.Remote, share.Owner
	every.Site, every.Drive, every.DriveName, every.ItemID = sp.Site, sp.Drive, sp.DriveName, sp.ItemID
	every.VersionID, every.VersionIndex, every.Current = sp.VersionID, sp.VersionIndex, sp.Current

	const mailJSON = `"kind":"mail","account":"a@example.org","mailbox":"INBOX","uidvalidity":7,"uid":42,"part":"2.1",` +
		`"message_id":"\u003cm2@x\u003e","in_reply_to":["\u003cm1@x\u003e"],"references":["\u003cm0@x\u003e","\u003cm1@x\u003e"],` +
		`"subject":"Re: budget","from":"b@example.org","to":["a@example.org"],"cc":["c@example.org"],"date":"2024-03-01T09:30:00Z",` +
		`"inner_message_ids":["\u003cin@x\u003e"],"inner_subject":"Fwd: old","name_generated":true`
	for _, c := range []struct {
		name string
		lin  connectors.Lineage
		want string
	}{
		{"mail", mail, `{` + mailJSON + `}`},
		{"share", share, `{"kind":"share","remote":"/srv/finance","owner":"alice"}`},
		{"sharepoint", sp, `{"kind":"sharepoint","site":"contoso.sharepoint.com,1,2","drive":"b!drive","drive_name":"Documents",` +
			`"item_id":"01ITEM","version_id":"3.0","version_index":3,"current":true}`},
		{"every field", every, `{` + mailJSON + `,"remote":"/srv/finance","owner":"alice","site":"contoso.sharepoint.com,1,2",` +
			`"drive":"b!drive","drive_name":"Documents","item_id":"01ITEM","version_id":"3.0","version_index":3,"current":true}`},
		{"kind only", connectors.Lineage{Kind: "share"}, `{"kind":"share"}`},
	} {
		b, err := json.Marshal(c.lin)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%s lineage stored as\n%s\nwant\n%s", c.name, b, c.want)
		}
		var back connectors.Lineage
		if err := json.Unmarshal([]byte(c.want), &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, c.lin) {
			t.Errorf("%s lineage read back as %+v, want %+v", c.name, back, c.lin)
		}
	}
}
