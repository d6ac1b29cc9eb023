package imap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/syncd/syncd/connectors"
)

func TestDecodeParam(t *testing.T) {
	cases := []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"filename": "plain.pdf"}, "plain.pdf"},
		{map[string]string{"filename*": "utf-8''Kosten%C3%BCbersicht%20%E2%82%AC.csv"}, "Kostenübersicht €.csv"},
		{map[string]string{"filename*": "iso-8859-1'de'R%E9sum%E9.pdf"}, "Résumé.pdf"},
		{map[string]string{"filename*0*": "iso-8859-1''%DCbersicht%20der%20", "filename*1*": "Ma%DFnahmen%20", "filename*2": "2024.pdf"}, "Übersicht der Maßnahmen 2024.pdf"},
		{map[string]string{"filename*0": "a", "filename*2": "c"}, "a"}, // gap ends the value
		{map[string]string{"filename": "=?UTF-8?B?QnVkZ2V0IOKAkyBTaW9iaMOhbidzIGNvbW1lbnRzLnhsc3g=?="}, "Budget – Siobhán's comments.xlsx"},
		{map[string]string{"filename": "=?windows-1252?Q?Re=E7u_2024.pdf?="}, "Reçu 2024.pdf"},
		{map[string]string{"filename": "  spaced\x01name.txt "}, "spacedname.txt"},
		{map[string]string{"filename*": "utf-8''bad%ZZ"}, "bad%ZZ"},
		{nil, ""},
	}
	for _, c := range cases {
		if got := decodeParam(c.params, "filename"); got != c.want {
			t.Errorf("decodeParam(%v) = %q, want %q", c.params, got, c.want)
		}
	}
}

func TestRawParams(t *testing.T) {
	p := rawParams(`attachment; filename*0*=iso-8859-1''%DC; filename*1="x;y.pdf"; size=12; q="a\"b"`)
	if p["filename*0*"] != "iso-8859-1''%DC" || p["filename*1"] != "x;y.pdf" || p["size"] != "12" || p["q"] != `a"b` {
		t.Errorf("rawParams: %v", p)
	}
	if got := decodeParam(p, "filename"); got != "Üx;y.pdf" {
		t.Errorf("decoded %q", got)
	}
}

func TestGeneratedName(t *testing.T) {
	if got := generatedName("Figures: Q1/Q2?", "application/pdf"); got != "Figures  Q1 Q2.pdf" {
		t.Errorf("got %q", got)
	}
	if got := generatedName("", "application/x-unknown-thing"); !strings.HasPrefix(got, "attachment.") {
		t.Errorf("got %q", got)
	}
}

func TestMatchMailbox(t *testing.T) {
	cases := []struct {
		p, name string
		want    bool
	}{
		{"*", "Projects/Q3/Old", true},
		{"Projects/*", "Projects/Q3", true},
		{"Projects/*", "Projects", false},
		{"Projects/%", "Projects/Q3/Old", false},
		{"Projects/%", "Projects/Q3", true},
		{"inbox", "INBOX", true},
		{"INBOX/*", "Inbox/Sub", true},
		{"Trash", "Trash/Sub", false},
	}
	for _, c := range cases {
		if got := matchMailbox(c.p, c.name); got != c.want {
			t.Errorf("matchMailbox(%q, %q) = %v", c.p, c.name, got)
		}
	}
	s, _ := Options{Address: "h:1", Username: "u"}.validate()
	if s.wants(mailbox{Display: "Junk"}) || s.wants(mailbox{Display: "Archive", Attrs: []imap.MailboxAttr{imap.MailboxAttrTrash}}) || !s.wants(mailbox{Display: "Archive/2020"}) {
		t.Error("default excludes")
	}
}

func TestRefRoundTrip(t *testing.T) {
	s, err := New("x", Options{Address: "h:1", Username: "a/b@c"})
	if err != nil {
		t.Fatal(err)
	}
	r := ref{Mailbox: "Projects/Shared Services", UIDValidity: 17, UID: 42, Part: []int{2, 1}, TNEF: 3}
	got, err := s.parseRef(s.refString(r))
	if err != nil || got.Mailbox != r.Mailbox || got.UID != 42 || got.UIDValidity != 17 || partString(got.Part) != "2.1" || got.TNEF != 3 {
		t.Errorf("round trip %s -> %+v, %v", s.refString(r), got, err)
	}
	for _, bad := range []string{"other/INBOX/1/2/3", "a/b@c/INBOX/x/2/3", "a/b@c/INBOX/1/2/0", "a/b@c/INBOX/1/2/3#0", "a/b@c/1/2"} {
		if _, err := s.parseRef(connectors.Ref(bad)); !errors.Is(err, ErrBadRef) {
			t.Errorf("parseRef(%q) err=%v", bad, err)
		}
	}
}

func TestClassifyThrottle(t *testing.T) {
	e := &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Request is throttled. Suggested Backoff Time: 299 milliseconds"}
	err, wait := classify(nil, e)
	if !connectors.IsRetryable(err) || !errors.Is(err, ErrThrottled) || wait != 299*time.Millisecond {
		t.Errorf("exchange throttle: %v wait %v", err, wait)
	}
	e = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "no such mailbox"}
	if err, _ := classify(nil, e); connectors.IsRetryable(err) {
		t.Errorf("NONEXISTENT classified retryable: %v", err)
	}
}

func TestFiltersSkip(t *testing.T) {
	s, err := Options{Address: "h:1", Username: "u", Filters: FilterOptions{
		Since: "2024-01-01", From: []string{"example.org"}, Subject: "(?i)budget",
		MaxSize: 1000, DenyTypes: []string{"image/*"}, AllowExt: []string{"pdf", ".docx"},
	}}.validate()
	if err != nil {
		t.Fatal(err)
	}
	m := msgMeta{From: "a@example.org", Subject: "Budget", Date: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)}
	if r := s.messageSkip(m); r != "" {
		t.Errorf("matching message skipped: %s", r)
	}
	m2 := m
	m2.Date = time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC)
	m3 := m
	m3.From = "a@other.org"
	m4 := m
	m4.Subject = "lunch"
	for want, mm := range map[string]msgMeta{SkipFilterDate: m2, SkipFilterFrom: m3, SkipFilterSubject: m4} {
		if r := s.messageSkip(mm); r != want {
			t.Errorf("%+v: skip %q want %q", mm, r, want)
		}
	}
	for _, c := range []struct {
		name, mt string
		size     int64
		want     string
	}{
		{"a.pdf", "application/pdf", 10, ""},
		{"a.pdf", "application/pdf", 5000, SkipSizeLimit},
		{"a.png", "image/png", 10, SkipBlockedType},
		{"a.xlsx", "application/vnd.ms-excel", 10, SkipBlockedType},
		{"B.DOCX", "application/octet-stream", 10, ""},
	} {
		if r := s.partSkip(c.name, c.mt, c.size); r != c.want {
			t.Errorf("partSkip(%s,%s,%d) = %q want %q", c.name, c.mt, c.size, r, c.want)
		}
	}
	if _, err := (Options{Address: "h:1", Username: "u", TLS: "maybe"}).validate(); err == nil {
		t.Error("tls: maybe accepted")
	}
}

// planAll runs the planner with default settings over a raw message.
func planAll(raw []byte) []partPlan {
	s, _ := Options{Address: "h:1", Username: "u"}.validate()
	bs := imapserver.ExtractBodyStructure(bytes.NewReader(raw))
	return newPlanner(s, "Subject").plan(bs)
}

func seedMessages(f *testing.F) {
	root := filepath.Join("..", "..", "fixtures", "mail")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".eml") {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC.txt\r\n\r\nx\r\n--c--\r\n--b--\r\n"))
}

// FuzzPlan: for any message, the plan names every part with valid UTF-8
// and no control characters, part numbers are unique and well formed, and
// every part is either a document or carries a known skip reason.
func FuzzPlan(f *testing.F) {
	seedMessages(f)
	known := map[string]bool{"": true, SkipSignatureLogo: true, SkipCalendar: true, SkipInline: true, SkipForwarded: true, SkipDepth: true, SkipExternalBody: true,
		connectors.SkipLockfile: true, connectors.SkipSystemFile: true, connectors.SkipTemporary: true, connectors.SkipAppleDouble: true,
		connectors.SkipSMIMESignature: true, connectors.SkipSignatureImage: true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		seen := map[string]bool{}
		for _, p := range planAll(raw) {
			if p.Name == "" || !utf8.ValidString(p.Name) || strings.ContainsAny(p.Name, "\x00\r\n") {
				t.Fatalf("bad name %q", p.Name)
			}
			ps := partString(p.Path)
			if _, err := parsePart(ps); err != nil || len(p.Path) == 0 || seen[ps] {
				t.Fatalf("bad or duplicate part %q", ps)
			}
			seen[ps] = true
			if !known[p.Skip] {
				t.Fatalf("unknown skip %q", p.Skip)
			}
		}
	})
}

// FuzzDecodeParam: decoding never panics and yields clean UTF-8 names.
func FuzzDecodeParam(f *testing.F) {
	for _, s := range []string{
		`attachment; filename="a.pdf"`,
		`attachment; filename*=utf-8''%E2%82%AC.csv`,
		`attachment; filename*0*=iso-8859-1''%DC; filename*1="x.pdf"`,
		`inline; filename="=?UTF-8?B?w5xiZXJzaWNodC5wZGY=?="`,
		`attachment; filename*=koi8-r''%F0%D2%C9.txt`,
		`attachment; filename*0="a"; filename*1*=%ZZ; filename*00=b`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n := decodeParam(rawParams(v), "filename")
		if !utf8.ValidString(n) || strings.ContainsAny(n, "\x00\r\n\x7f") || n != strings.TrimSpace(n) {
			t.Fatalf("decodeParam(%q) = %q", v, n)
		}
	})
}

// TestCIDRefs: the Content-IDs an HTML part shows, whatever the quoting,
// case or RFC 2392 percent-encoding; and media types per RFC 2045 5.2.
func TestCIDRefs(t *testing.T) {
	html := `<img src="cid:image001.png@01DA6F00.1"><IMG SRC='CID:Logo%40Example.ORG'>` +
		`<div style="background:url(cid:bg.gif)">cid: is a word</div>`
	got := cidRefs([]byte(html))
	want := []string{"image001.png@01da6f00.1", "logo@example.org", "bg.gif"}
	if !slices.Equal(got, want) {
		t.Errorf("cidRefs = %q, want %q", got, want)
	}
	for _, c := range [][3]string{{"TEXT", "Plain", "text/plain"}, {"text", "", "text/plain"},
		{"", "", "text/plain"}, {"text", "plain>", "text/plain"}, {"<html>", "", "text/plain"},
		{"application", "pdf", "application/pdf"}, {"image", "svg+xml", "image/svg+xml"}} {
		if got := mediaType(c[0], c[1]); got != c[2] {
			t.Errorf("mediaType(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

// A message fetched without a BODYSTRUCTURE is set apart (and reported by
// the scan as a problem with its Ref) rather than dropped in silence while
// the cursor moves past its UID.
func TestWithStructureSetsApartBlindMessages(t *testing.T) {
	bs := &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain"}
	msgs := []*imapclient.FetchMessageBuffer{{UID: 3, BodyStructure: bs}, {UID: 4}, {UID: 5, BodyStructure: bs}}
	ok, blind := withStructure(msgs)
	if len(ok) != 2 || ok[0].UID != 3 || ok[1].UID != 5 || len(blind) != 1 || blind[0] != 4 {
		t.Fatalf("withStructure: ok %d, blind %v; want uids 3 and 5 kept, 4 set apart", len(ok), blind)
	}
}
