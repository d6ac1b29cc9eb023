package imap_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// boxStates reads the cursor's per-mailbox state as plain JSON.
func boxStates(t *testing.T, cur connectors.Cursor) map[string]map[string]any {
	t.Helper()
	var c struct {
		Mailboxes map[string]map[string]any `json:"mailboxes"`
	}
	if err := json.Unmarshal(cur, &c); err != nil {
		t.Fatal(err)
	}
	return c.Mailboxes
}

func validity(t *testing.T, cur connectors.Cursor, box string) uint32 {
	t.Helper()
	v, ok := boxStates(t, cur)[box]["uidvalidity"].(float64)
	if !ok {
		t.Fatalf("cursor has no mailbox %s: %s", box, cur)
	}
	return uint32(v)
}

func login(t testing.TB, addr, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, imaptest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// expunge deletes one message for good, as a mail client does.
func expunge(t *testing.T, c *imapclient.Client, mbox string, uid uint32) {
	t.Helper()
	if _, err := c.Select(mbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids := imap.UIDSetNum(imap.UID(uid))
	if err := c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(uids).Close(); err != nil {
		t.Fatal(err)
	}
}

func gones(rec *connectortest.Recorder) []string {
	var out []string
	for _, g := range rec.Gones {
		out = append(out, fmt.Sprintf("%s %s under=%v", g.Why, g.Ref, g.Under))
	}
	slices.Sort(out)
	return out
}

// TestGoneOnDovecot: an expunged message (in a mailbox that got a new
// one, so its message count did not move), a deleted mailbox and a
// renamed one are reported gone once; unchanged mailboxes are still not
// examined; the next scan reports nothing.
func TestGoneOnDovecot(t *testing.T) {
	srv := startDovecot(t)
	s1 := newSource(t, srv, alice, "")
	defer s1.Close()
	rec1, cur := connectortest.Scan(t, s1, nil)
	var expunged *connectors.Item
	for _, it := range rec1.Content() {
		if it.Lineage.Mailbox == "INBOX" {
			expunged = it
			break
		}
	}
	if expunged == nil || len(rec1.Gones) != 0 {
		t.Fatalf("first scan: gones %v; want none and an INBOX attachment", rec1.Gones)
	}
	c := login(t, srv.addr, alice)
	expunge(t, c, "INBOX", expunged.Lineage.UID)
	if err := c.Delete("Projects/Budget 2024").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("Sent", "Sent Items", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMessage(t, srv.addr, alice, "INBOX", "Arrived since.pdf")

	s2 := newSource(t, srv, alice, "")
	defer s2.Close()
	rec2, cur2 := connectortest.Scan(t, s2, cur)
	want := []string{
		fmt.Sprintf("expunged %s/INBOX/%d/%d under=true", alice, expunged.Lineage.UIDValidity, expunged.Lineage.UID),
		fmt.Sprintf("mailbox-gone %s/Projects/Budget 2024/%d under=true", alice, validity(t, cur, "Projects/Budget 2024")),
		fmt.Sprintf("mailbox-gone %s/Sent/%d under=true", alice, validity(t, cur, "Sent")),
	}
	if got := gones(rec2); !slices.Equal(got, want) {
		t.Errorf("gone\n%v\nwant\n%v", got, want)
	}
	newBoxes := map[string]bool{}
	for _, it := range rec2.Items {
		newBoxes[it.Lineage.Mailbox] = true
	}
	if !newBoxes["INBOX"] || !newBoxes["Sent Items"] || len(newBoxes) != 2 {
		t.Errorf("second scan listed items of %v, want the new INBOX message and the renamed Sent Items", newBoxes)
	}
	if n := s2.(connectors.Metered).Counters().Examines; n != 2 {
		t.Errorf("second scan examined %d mailboxes, want 2 (INBOX and Sent Items)", n)
	}
	if _, ok := boxStates(t, cur2)["Projects/Budget 2024"]; ok {
		t.Error("the deleted mailbox is still in the cursor")
	}

	s3 := newSource(t, srv, alice, "")
	defer s3.Close()
	rec3, _ := connectortest.Scan(t, s3, cur2)
	if len(rec3.Items)+len(rec3.Gones) != 0 || s3.(connectors.Metered).Counters().Examines != 0 {
		t.Errorf("third scan: items %d, gone %v, examines %d; want nothing", len(rec3.Items), gones(rec3), s3.(connectors.Metered).Counters().Examines)
	}
}

// A new UIDVALIDITY voids every UID of the mailbox: the old generation is
// gone as a whole and every message is listed again under the new one.
// A cursor written before syncd tracked deletions (no UID set) examines
// each mailbox once and reports nothing gone.
func TestGoneUIDValidityAndOldCursor(t *testing.T) {
	srv := startDovecot(t)
	s1 := newSource(t, srv, alice, "")
	defer s1.Close()
	rec1, cur := connectortest.Scan(t, s1, nil)
	boxes := boxStates(t, cur)
	inbox := 0
	for _, it := range rec1.Items {
		if it.Lineage.Mailbox == "INBOX" {
			inbox++
		}
	}
	old := boxes["INBOX"]["uidvalidity"].(float64)
	boxes["INBOX"]["uidvalidity"] = old + 1
	for _, b := range boxes {
		if b["tracked"] != true || b["messages"] == nil {
			t.Fatalf("cursor mailbox without its UID set: %v", b)
		}
	}
	changed, _ := json.Marshal(map[string]any{"mailboxes": boxes})
	s2 := newSource(t, srv, alice, "")
	defer s2.Close()
	rec2, _ := connectortest.Scan(t, s2, changed)
	want := []string{fmt.Sprintf("uidvalidity %s/INBOX/%d under=true", alice, uint32(old)+1)}
	if got := gones(rec2); !slices.Equal(got, want) || len(rec2.Items) != inbox {
		t.Errorf("after a UIDVALIDITY change: gone %v (want %v), %d items (want INBOX's %d)", got, want, len(rec2.Items), inbox)
	}

	for _, b := range boxes {
		delete(b, "tracked")
		delete(b, "messages")
		delete(b, "present")
	}
	boxes["INBOX"]["uidvalidity"] = old
	legacy, _ := json.Marshal(map[string]any{"mailboxes": boxes})
	s3 := newSource(t, srv, alice, "")
	defer s3.Close()
	rec3, cur3 := connectortest.Scan(t, s3, legacy)
	if len(rec3.Items)+len(rec3.Gones) != 0 || s3.(connectors.Metered).Counters().Examines != int64(len(boxes)) {
		t.Errorf("from an old cursor: %d items, gone %v, %d examines; want none, none, %d", len(rec3.Items), gones(rec3), s3.(connectors.Metered).Counters().Examines, len(boxes))
	}
	for name, b := range boxStates(t, cur3) {
		if b["tracked"] != true {
			t.Errorf("mailbox %s: UID set not learnt from an old cursor", name)
		}
	}
}

// TestPartGoneOnDovecot: scanned by parts (one mailbox each), a deleted
// mailbox is no longer listed; scanning its part from its cursor reports
// it gone, and the parts still listed report nothing.
func TestPartGoneOnDovecot(t *testing.T) {
	srv := startDovecot(t)
	s1 := newSource(t, srv, alice, "")
	defer s1.Close()
	p1 := s1.(connectors.Partitioner)
	ctx := t.Context()
	parts, err := p1.Parts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(parts, "Projects/Budget 2024") || !slices.Contains(parts, "INBOX") {
		t.Fatalf("parts %q: want every mailbox, INBOX and Projects/Budget 2024 among them", parts)
	}
	cursors := map[string]connectors.Cursor{}
	for _, part := range parts {
		rec := &connectortest.Recorder{}
		cur, err := p1.ScanPart(ctx, part, nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range rec.Items {
			if it.Lineage.Mailbox != part {
				t.Errorf("part %q reported %s of mailbox %q", part, it.Ref, it.Lineage.Mailbox)
			}
		}
		if got := slices.Collect(maps.Keys(boxStates(t, cur))); !slices.Equal(got, []string{part}) {
			t.Errorf("part %q: cursor holds mailboxes %q, want only its own", part, got)
		}
		cursors[part] = cur
	}
	c := login(t, srv.addr, alice)
	if err := c.Delete("Projects/Budget 2024").Wait(); err != nil {
		t.Fatal(err)
	}
	s2 := newSource(t, srv, alice, "")
	defer s2.Close()
	p2 := s2.(connectors.Partitioner)
	parts2, err := p2.Parts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(parts2, "Projects/Budget 2024") || len(parts2) != len(parts)-1 {
		t.Fatalf("parts after the delete: %q", parts2)
	}
	for _, part := range parts {
		rec := &connectortest.Recorder{}
		cur, err := p2.ScanPart(ctx, part, cursors[part], rec)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		if part == "Projects/Budget 2024" {
			want = []string{fmt.Sprintf("mailbox-gone %s/Projects/Budget 2024/%d under=true", alice, validity(t, cursors[part], part))}
			if len(boxStates(t, cur)) != 0 {
				t.Errorf("the deleted mailbox's part kept a cursor: %s", cur)
			}
		}
		if got := gones(rec); !slices.Equal(got, want) || len(rec.Items) != 0 {
			t.Errorf("part %q after the delete: gone %q, %d items; want gone %q and no items", part, got, len(rec.Items), want)
		}
	}
}
