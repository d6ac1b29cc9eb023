package imap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	imapsrc "github.com/syncd/syncd/connectors/imap"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

const (
	alice = "alice@example.org"
	bob   = "bob@example.org" // clean fixtures only: conformance opens every item
)

func fixtureDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "fixtures", "mail")
}

// server is a seeded IMAP server under test.
type server struct {
	kind string
	addr string
}

func startMemory(t testing.TB) server {
	srv, err := imaptest.StartMemory(context.Background(), fixtureDir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return server{"memory", srv.Addr}
}

func startDovecot(t testing.TB) server {
	srv, err := imaptest.StartDovecot(context.Background(), fixtureDir(t))
	if err == imaptest.ErrNoDovecot {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return server{"dovecot", srv.Addr}
}

func newSource(t testing.TB, srv server, user, extra string) connectors.Source {
	t.Helper()
	os.Setenv("SYNCD_TEST_IMAP_PW", imaptest.Password)
	cfg := connectortest.Config(t, fmt.Sprintf(`
name: %s-mail
type: imap
address: %s
tls: none
username: %s
password_env: SYNCD_TEST_IMAP_PW
connections: 4
batch_size: 4
%s`, srv.kind, srv.addr, user, extra))
	s, err := connectors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendMessage adds one message with a PDF attachment named name.
func appendMessage(t testing.TB, addr, user, mbox, name string) {
	t.Helper()
	appendRaw(t, addr, user, mbox, fmt.Sprintf(`From: Bob <bob@example.org>
To: %s
Subject: new %s
Date: Mon, 1 Apr 2024 10:00:00 +0000
Message-ID: <new-%s@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=x

--x
Content-Type: text/plain

hi
--x
Content-Type: application/pdf; name="%s"
Content-Disposition: attachment; filename="%s"
Content-Transfer-Encoding: base64

JVBERi0xLjQKbmV3IGZpbGUK
--x--
`, user, name, strings.ReplaceAll(name, " ", "-"), name, name))
}

// appendRaw adds one message (lines ending in "\n") and returns its UID
// and the mailbox's UIDVALIDITY.
func appendRaw(t testing.TB, addr, user, mbox, msg string) (imap.UID, uint32) {
	t.Helper()
	c := login(t, addr, user)
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	cmd := c.Append(mbox, int64(len(msg)), &imap.AppendOptions{Time: time.Now()})
	cmd.Write([]byte(msg))
	cmd.Close()
	data, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data.UID, data.UIDValidity
}

// brokenTNEF is a message whose winmail.dat is not TNEF: the scan reports
// the message as a Problem and winmail.dat itself as the document.
const brokenTNEF = `From: Carol <carol@example.org>
To: bob@example.org
Subject: minutes (Outlook)
Date: Tue, 2 Apr 2024 10:00:00 +0000
Message-ID: <broken-tnef@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=x

--x
Content-Type: text/plain

see attached
--x
Content-Type: application/ms-tnef; name="winmail.dat"
Content-Disposition: attachment; filename="winmail.dat"
Content-Transfer-Encoding: base64

bm90IGEgVE5FRiBzdHJlYW0gYXQgYWxsLCBqdXN0IHRleHQK
--x--
`

func conformance(t *testing.T, start func(testing.TB) server) {
	srv := start(t)
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Source { return newSource(t, srv, bob, "") },
		Mutate: func(t *testing.T) []string {
			appendMessage(t, srv.addr, bob, "INBOX", "Added later.pdf")
			return []string{"Added later.pdf"}
		},
		Break: func(t *testing.T) connectortest.Broken {
			uid, validity := appendRaw(t, srv.addr, bob, "INBOX", brokenTNEF)
			if uid == 0 {
				t.Fatal("the server gave no APPENDUID")
			}
			return connectortest.Broken{Ref: connectors.Ref(fmt.Sprintf("%s/INBOX/%d/%d", bob, validity, uid)), Mentions: fmt.Sprintf("INBOX uid %d", uid)}
		},
	})
}

func TestConformanceMemory(t *testing.T)  { conformance(t, startMemory) }
func TestConformanceDovecot(t *testing.T) { conformance(t, startDovecot) }

// A re-scan of an unchanged account logs in once: the other scan workers
// join only when a mailbox has new messages.
func TestUnchangedRescanLogsInOnce(t *testing.T) {
	srv := startMemory(t)
	logins := func(s connectors.Source) int64 { return s.(connectors.Metered).Counters().Logins }

	s1 := newSource(t, srv, alice, "")
	defer s1.Close()
	rec, cur := connectortest.Scan(t, s1, nil)
	if len(rec.Items) == 0 {
		t.Fatal("first scan found nothing")
	}
	if n := logins(s1); n < 2 {
		t.Errorf("first scan of 4 mailboxes with new mail: %d logins, want the second scan worker to join", n)
	}

	// Another dial timeout: s1's sessions, kept for the next Source of
	// the same config, are not s2's.
	s2 := newSource(t, srv, alice, "dial_timeout: 29s\n")
	defer s2.Close()
	rec, _ = connectortest.Scan(t, s2, cur)
	if len(rec.Items) != 0 {
		t.Fatalf("re-scan found %d items", len(rec.Items))
	}
	if n := logins(s2); n != 1 {
		t.Fatalf("re-scan of an unchanged account: %d logins, want 1", n)
	}
}

// A small account's first scan logs in once: the other scan workers join
// only once a batch's worth of new messages (batch_size) is found, and
// the small parts come with their batches, so Open needs no connection.
// (TestUnchangedRescanLogsInOnce: an account of several batches gets the
// second worker.)
func TestSmallAccountLogsInOnce(t *testing.T) {
	srv := startDovecot(t)
	os.Setenv("SYNCD_TEST_IMAP_PW", imaptest.Password)
	// dial_timeout 27s: a config of its own, so no other test's kept
	// session serves it.
	s, err := connectors.New(connectortest.Config(t, fmt.Sprintf(
		"name: %s-small\ntype: imap\naddress: %s\ntls: none\nusername: %s\npassword_env: SYNCD_TEST_IMAP_PW\nconnections: 4\nbatch_size: 1000\ndial_timeout: 27s\n",
		srv.kind, srv.addr, alice)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	read := 0
	for _, it := range rec.Content() {
		if imapsrc.Prefetched(it) {
			connectortest.ReadAll(t, s, it)
			read++
		}
	}
	if read < 10 {
		t.Fatalf("only %d parts came with their batch", read)
	}
	if n := s.(connectors.Metered).Counters().Logins; n != 1 {
		t.Errorf("an account of less than a batch, scanned and %d batched parts read: %d logins, want 1", read, n)
	}
}

// The next Source of the same config in this process (the next part of
// an account) takes the sessions the last one kept, with no mailbox
// selected, and sees the server as it is now; a Source with another
// password does not get them.
func TestSessionsKeptForTheNextSource(t *testing.T) {
	imapsrc.KeepSessionsFor(t, time.Hour) // however slow the machine is between the two sources
	srv := startDovecot(t)
	logins := func(s connectors.Source) int64 { return s.(connectors.Metered).Counters().Logins }
	s1 := newSource(t, srv, alice, "")
	_, cur := connectortest.Scan(t, s1, nil)
	s1.Close()
	if logins(s1) == 0 {
		t.Fatal("the first source did not log in")
	}
	appendMessage(t, srv.addr, alice, "INBOX", "Arrived between.pdf")
	s2 := newSource(t, srv, alice, "")
	defer s2.Close()
	rec, _ := connectortest.Scan(t, s2, cur)
	if n := logins(s2); n != 0 {
		t.Errorf("the next source of the same config logged in %d times, want 0 (the kept session)", n)
	}
	if len(rec.Content()) != 1 || rec.Content()[0].Name != "Arrived between.pdf" {
		t.Errorf("the kept session's scan found %d items, want the message that arrived since", len(rec.Content()))
	}
	connectortest.ReadAll(t, s2, rec.Content()[0])
	s2.Close()

	// s2 kept its sessions; a source of the same account and name that
	// presents another password gets none of them: it logs in, and fails.
	t.Setenv("SYNCD_TEST_IMAP_PW", "not the password")
	s3, err := connectors.New(connectortest.Config(t, fmt.Sprintf(
		"name: %s-mail\ntype: imap\naddress: %s\ntls: none\nusername: %s\npassword_env: SYNCD_TEST_IMAP_PW\nconnections: 4\nbatch_size: 4\n",
		srv.kind, srv.addr, alice)))
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if _, err := s3.Scan(t.Context(), nil, &connectortest.Recorder{}); err == nil {
		t.Error("a source with the wrong password scanned the account: it was given another source's session")
	}
}

// With LIST-STATUS (Dovecot has it) an unchanged mailbox is not even
// examined: one LIST tells which mailboxes got new mail.
func TestRescanExaminesOnlyChangedMailboxes(t *testing.T) {
	srv := startDovecot(t)
	examines := func(s connectors.Source) int64 { return s.(connectors.Metered).Counters().Examines }
	s1 := newSource(t, srv, alice, "")
	defer s1.Close()
	_, cur := connectortest.Scan(t, s1, nil)
	if n := examines(s1); n < 2 {
		t.Fatalf("first scan examined %d mailboxes", n)
	}

	s2 := newSource(t, srv, alice, "")
	defer s2.Close()
	rec, cur := connectortest.Scan(t, s2, cur)
	if len(rec.Items) != 0 || examines(s2) != 0 {
		t.Fatalf("unchanged re-scan: %d items, %d mailboxes examined; want none", len(rec.Items), examines(s2))
	}

	appendMessage(t, srv.addr, alice, "INBOX", "Arrived since.pdf")
	s3 := newSource(t, srv, alice, "")
	defer s3.Close()
	rec, _ = connectortest.Scan(t, s3, cur)
	if n := examines(s3); n != 1 {
		t.Errorf("re-scan after one new message: %d mailboxes examined, want 1", n)
	}
	found := false
	for _, it := range rec.Items {
		found = found || it.Name == "Arrived since.pdf"
	}
	if !found {
		t.Fatalf("the new message's attachment was not found: %d items", len(rec.Items))
	}
}
