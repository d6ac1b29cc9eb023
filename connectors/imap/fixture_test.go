package imap_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	imapsrc "github.com/syncd/syncd/connectors/imap"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

var servers = map[string]func(testing.TB) server{"memory": startMemory, "dovecot": startDovecot}

func eachServer(t *testing.T, f func(t *testing.T, srv server)) {
	for _, name := range []string{"memory", "dovecot"} {
		t.Run(name, func(t *testing.T) { f(t, servers[name](t)) })
	}
}

func byName(items []*connectors.Item) map[string][]*connectors.Item {
	out := map[string][]*connectors.Item{}
	for _, it := range items {
		out[it.Name] = append(out[it.Name], it)
	}
	return out
}

// TestFixtureSelection checks what the scan reports for each fixture case.
func TestFixtureSelection(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		s := newSource(t, srv, alice, "")
		defer s.Close()
		rec, _ := connectortest.Scan(t, s, nil)
		got := byName(rec.Items)
		want := map[string]string{ // name -> skip reason
			"Quarterly Report.pdf":             "",
			"Budget – Siobhán's comments.xlsx": "",
			"Übersicht der Maßnahmen 2024.pdf": "",
			"Kostenübersicht €.csv":            "",
			"Contract draft.pdf":               "",
			"prices.csv":                       "",
			"cover note.txt":                   "",
			"Minutes – March board.docx":       "",
			"figures.csv":                      "",
			"winmail.dat":                      imapsrc.SkipTNEFContainer,
			"bad.bin":                          "",
			"good.pdf":                         "",
			"scan0042.pdf":                     "",
			"Business Case v2.docx":            "",
			"image001.png":                     imapsrc.SkipSignatureLogo,
			"Agenda.docx":                      "",
			"invite.ics":                       imapsrc.SkipCalendar,
			"Board meeting.ics":                imapsrc.SkipCalendar,
			"Figures  Q1 Q2.pdf":               "",
			"summary.csv":                      "",
			"Annual report.pdf":                imapsrc.SkipExternalBody,
			"image002.png":                     imapsrc.SkipSignatureLogo,
			"site photo.jpg":                   "",
			"long bad.bin":                     "",
		}
		for name, skip := range want {
			its := got[name]
			if len(its) == 0 {
				t.Errorf("%s: no item %q (got %v)", srv.kind, name, keys(got))
				continue
			}
			for _, it := range its {
				if it.Skip != skip {
					t.Errorf("%s: %q skip=%q, want %q", srv.kind, name, it.Skip, skip)
				}
			}
		}
		if len(got["deleted.pdf"]) != 0 {
			t.Errorf("Trash was scanned: %v", got["deleted.pdf"][0].Ref)
		}
		checkLineage(t, got)
		for _, it := range rec.Items {
			// RFC 2045 5.2: a broken Content-Type is text/plain, a body.
			if strings.HasPrefix(it.Lineage.MessageID, "<broken-type-") {
				t.Errorf("%s: the body of %s (broken Content-Type) reported as %q (%s, skip %q)",
					srv.kind, it.Lineage.MessageID, it.Name, it.MediaType, it.Skip)
			}
			// Only a part without a file name is named by syncd, and says so.
			generated := it.Name == "Figures  Q1 Q2.pdf" || it.Name == "Board meeting.ics"
			if it.Lineage.NameGenerated != generated {
				t.Errorf("%s: %q: NameGenerated = %v, want %v", srv.kind, it.Name, it.Lineage.NameGenerated, generated)
			}
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func checkLineage(t *testing.T, got map[string][]*connectors.Item) {
	t.Helper()
	fwd := got["Contract draft.pdf"][0]
	l := fwd.Lineage
	if l.MessageID != "<fwd-contract-2@example.org>" || l.Subject != "Fwd: Contract draft" ||
		!slices.Equal(l.InnerMessageIDs, []string{"<inner-contract-1@partner.example.com>"}) ||
		l.InnerSubject != "Contract draft" || l.Part != "2.2" || l.From != "bob@example.org" ||
		!slices.Equal(l.References, []string{"<inner-contract-1@partner.example.com>"}) {
		t.Errorf("forwarded attachment lineage: %+v", l)
	}
	if fwd.Author != "bob@example.org" || fwd.Path != "INBOX" || fwd.Lineage.Kind != "mail" {
		t.Errorf("forwarded attachment: author %q path %q", fwd.Author, fwd.Path)
	}
	bc := got["Business Case v2.docx"]
	if len(bc) != 2 {
		t.Fatalf("Business Case v2.docx: %d items, want 2 (Sent and Projects/Budget 2024)", len(bc))
	}
	if bc[0].Hashes["imap-part"] == "" || bc[0].Hashes["imap-part"] != bc[1].Hashes["imap-part"] {
		t.Errorf("same message in two mailboxes: imap-part keys %v vs %v", bc[0].Hashes, bc[1].Hashes)
	}
	if bc[0].Lineage.Mailbox == bc[1].Lineage.Mailbox || bc[0].Ref == bc[1].Ref {
		t.Errorf("two sightings should differ in mailbox and ref: %s %s", bc[0].Ref, bc[1].Ref)
	}
	g := got["Budget – Siobhán's comments.xlsx"][0].Lineage
	if g.Subject != "Re: Budget – comments" || !slices.Equal(g.Cc, []string{"bob@example.org"}) || g.Date.IsZero() {
		t.Errorf("gmail lineage: %+v", g)
	}
}

// pythonHashes runs Python's email package over every fixture and returns
// file -> IMAP part number -> sha256 of get_payload(decode=True).
func pythonHashes(t *testing.T) map[string]map[string]string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 not installed")
		}
		t.Skip("python3 not installed")
	}
	const script = `
import email, email.policy, hashlib, json, os, sys
root = sys.argv[1]
out = {}
def leaf(e, path, res):
    data = e.get_payload(decode=True) or b""
    res[".".join(map(str, path))] = hashlib.sha256(data).hexdigest()
def entity(e, path, res):
    if e.get_content_type() == "message/rfc822" and e.is_multipart():
        inner = e.get_payload(0)
        if inner.is_multipart():
            for i, c in enumerate(inner.get_payload(), 1):
                entity(c, path + [i], res)
        else:
            leaf(inner, path + [1], res)
    elif e.is_multipart():
        for i, c in enumerate(e.get_payload(), 1):
            entity(c, path + [i], res)
    else:
        leaf(e, path, res)
for d, _, files in os.walk(root):
    for f in files:
        if not f.endswith(".eml"):
            continue
        p = os.path.join(d, f)
        with open(p, "rb") as fh:
            m = email.message_from_binary_file(fh, policy=email.policy.compat32)
        res = {}
        if m.is_multipart():
            for i, c in enumerate(m.get_payload(), 1):
                entity(c, [i], res)
        else:
            leaf(m, [1], res)
        out[os.path.relpath(p, root)] = res
json.dump(out, sys.stdout)
`
	b, err := exec.Command(py, "-c", script, fixtureDir(t)).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var out map[string]map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// tnefHashes extracts winmail.dat files with Debian's tnef tool.
func tnefHashes(t *testing.T) map[string]string {
	t.Helper()
	bin, err := exec.LookPath("tnef")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tnef not installed")
		}
		t.Skip("tnef not installed")
	}
	const script = `
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_content_type() == "application/ms-tnef":
        sys.stdout.buffer.write(p.get_payload(decode=True))
`
	dat, err := exec.Command("python3", "-c", script, filepath.Join(fixtureDir(t), alice, "INBOX", "0006.eml")).Output()
	if err != nil || len(dat) == 0 {
		t.Fatalf("extract winmail.dat: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "winmail.dat"), dat, 0o600)
	if b, err := exec.Command(bin, "--save-body=no", "-C", dir, "-f", filepath.Join(dir, "winmail.dat")).CombinedOutput(); err != nil {
		t.Fatalf("tnef: %v %s", err, b)
	}
	out := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "winmail.dat" {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			out[e.Name()] = sha(b)
		}
	}
	return out
}

// TestBytesMatchPython: every stored attachment's bytes hash-equal what
// Python's email package (or, inside winmail.dat, Debian's tnef) extracts.
func TestBytesMatchPython(t *testing.T) {
	py := pythonHashes(t)
	tn := tnefHashes(t)
	eachServer(t, func(t *testing.T, srv server) {
		// never: syncd decodes; auto: the server does where it has
		// BINARY (Dovecot), with syncd decoding what it refuses.
		for _, binary := range []string{"never", "auto"} {
			t.Run(binary, func(t *testing.T) { bytesMatch(t, srv, binary, py, tn) })
		}
	})
}

func bytesMatch(t *testing.T, srv server, binary string, py map[string]map[string]string, tn map[string]string) {
	s := newSource(t, srv, alice, "binary: "+binary+"\n")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	checked := 0
	for _, it := range rec.Content() {
		rc, err := s.Open(context.Background(), it)
		var b []byte
		if err == nil {
			b, err = io.ReadAll(rc)
			rc.Close()
		}
		if it.Name == "bad.bin" || it.Name == "long bad.bin" {
			if !errors.Is(err, imapsrc.ErrBadEncoding) {
				t.Errorf("%s: err=%v, want ErrBadEncoding", it.Name, err)
				continue
			}
			if !strings.Contains(err.Error(), string(it.Ref)) {
				t.Errorf("%s error does not name the item: %v", it.Name, err)
			}
			file := filepath.Join(fixtureDir(t), it.Lineage.Account, it.Lineage.Mailbox, fmt.Sprintf("%04d.eml", it.Lineage.UID))
			if want := fmt.Sprintf("at byte %d of the encoded part", badBase64Offset(t, file, it.Name)); !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", it.Name, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s (%s): %v", it.Ref, it.Name, err)
			continue
		}
		want := ""
		if strings.Contains(it.Lineage.Part, "#") {
			want = tn[it.Name]
		} else {
			file := filepath.Join(it.Lineage.Account, filepath.FromSlash(it.Lineage.Mailbox), fmt.Sprintf("%04d.eml", it.Lineage.UID))
			want = py[file][it.Lineage.Part]
		}
		if want == "" {
			t.Errorf("%s (%s): no reference hash", it.Ref, it.Name)
		} else if got := sha(b); got != want && !textEqual(it, b, want) {
			t.Errorf("%s (%s): sha256 %s, python/tnef %s (%d bytes)", it.Ref, it.Name, got, want, len(b))
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("only %d attachments compared", checked)
	}
}

// badBase64Offset finds, in a fixture file, the offset within the encoded
// body of the part named name of the first byte that makes its base64
// invalid: the whole body is filtered to the alphabet and decoded at once.
func badBase64Offset(t *testing.T, file, name string) int {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h := bytes.Index(raw, []byte(`filename="`+name+`"`))
	if h < 0 {
		t.Fatalf("%s: no part %q", file, name)
	}
	start := h + bytes.Index(raw[h:], []byte("\r\n\r\n")) + 4
	body := raw[start:]
	body = body[:bytes.Index(body, []byte("\r\n--"))]
	var kept []byte
	var pos []int
	for i, c := range body {
		if c == '+' || c == '/' || c == '=' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			kept = append(kept, c)
			pos = append(pos, i)
		}
	}
	_, err = base64.StdEncoding.DecodeString(string(kept))
	var ce base64.CorruptInputError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: part %q decodes (%v)", file, name, err)
	}
	if int(ce) >= len(pos) {
		return len(body) // ended early: the end of the part
	}
	return pos[int(ce)]
}

// flagSnapshot returns "mailbox uid flags" for every message of user.
func flagSnapshot(t *testing.T, addr, user string) []string {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, imaptest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range boxes {
		if _, err := c.Select(b.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			continue // empty mailbox
		}
		for _, m := range msgs {
			out = append(out, fmt.Sprintf("%s %d %v", b.Mailbox, m.UID, m.Flags))
		}
	}
	slices.Sort(out)
	return out
}

// TestFlagsUnchanged: a full scan plus opening every item changes no flag.
func TestFlagsUnchanged(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		before := flagSnapshot(t, srv.addr, alice)
		if len(before) < 10 {
			t.Fatalf("snapshot has %d messages", len(before))
		}
		s := newSource(t, srv, alice, "")
		rec, _ := connectortest.Scan(t, s, nil)
		for _, it := range rec.Content() {
			if rc, err := s.Open(context.Background(), it); err == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
		s.Close()
		after := flagSnapshot(t, srv.addr, alice)
		if !slices.Equal(before, after) {
			t.Errorf("flags changed:\nbefore %v\nafter  %v", before, after)
		}
		for _, f := range after {
			if strings.Contains(f, `\Seen`) {
				t.Errorf("message marked seen: %s", f)
			}
		}
	})
}

// TestSecondScanFetchesNothing: a rescan from the cursor of an unchanged
// account reports nothing and fetches no part.
func TestSecondScanFetchesNothing(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		s := newSource(t, srv, alice, "")
		_, cur := connectortest.Scan(t, s, nil)
		s.Close()
		if srv.kind == "dovecot" && !strings.Contains(string(cur), `"highestmodseq"`) {
			t.Errorf("Dovecot has CONDSTORE but the cursor has no HIGHESTMODSEQ: %s", cur)
		}
		s2 := newSource(t, srv, alice, "")
		defer s2.Close()
		rec, _ := connectortest.Scan(t, s2, cur)
		c := s2.(connectors.Metered).Counters()
		t.Logf("%s second scan counters: %+v", srv.kind, c)
		if len(rec.Items) != 0 || c.PartsFetched != 0 || c.ReceivedBytes != 0 || c.MessagesScanned != 0 {
			t.Errorf("second scan: %d items, counters %+v", len(rec.Items), c)
		}
	})
}

// TestUIDValidityChangeRescans: a cursor with another UIDVALIDITY for INBOX
// makes the scan report INBOX again, and only INBOX.
func TestUIDValidityChangeRescans(t *testing.T) {
	srv := startMemory(t)
	s := newSource(t, srv, alice, "")
	defer s.Close()
	_, cur := connectortest.Scan(t, s, nil)
	var c struct {
		Mailboxes map[string]map[string]any `json:"mailboxes"`
	}
	if err := json.Unmarshal(cur, &c); err != nil {
		t.Fatal(err)
	}
	c.Mailboxes["INBOX"]["uidvalidity"] = c.Mailboxes["INBOX"]["uidvalidity"].(float64) + 1
	stale, _ := json.Marshal(c)
	rec, _ := connectortest.Scan(t, s, stale)
	if len(rec.Content()) == 0 {
		t.Fatal("changed UIDVALIDITY did not rescan INBOX")
	}
	for _, it := range rec.Items {
		if it.Lineage.Mailbox != "INBOX" {
			t.Errorf("rescan reported %s from %s", it.Name, it.Lineage.Mailbox)
		}
	}
}

// textEqual: Python's email returns 7bit/8bit/quoted-printable text with
// CRLF turned into LF; the connector keeps the wire's CRLF (RFC 2046
// canonical form). Text parts compare equal after that one normalisation.
func textEqual(it *connectors.Item, b []byte, want string) bool {
	return strings.HasPrefix(it.MediaType, "text/") && sha(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))) == want
}
