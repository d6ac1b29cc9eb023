package imap_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// throttling answers the first metadata FETCHes the way Exchange Online
// does when it throttles.
type throttling struct {
	imapserver.Session
	left *atomic.Int32
}

func (t throttling) Fetch(w *imapserver.FetchWriter, set imap.NumSet, o *imap.FetchOptions) error {
	if o.BodyStructure != nil && t.left.Add(-1) >= 0 {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Request is throttled. Suggested Backoff Time: 20 milliseconds"}
	}
	return t.Session.Fetch(w, set, o)
}

// startWrapped serves bob's INBOX (two messages of the fixture) from an
// in-process server whose sessions wrap passes through; it returns the
// address.
func startWrapped(t *testing.T, wrap func(imapserver.Session) imapserver.Session) string {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(bob, imaptest.Password)
	u.Create("INBOX", nil)
	for _, f := range []string{"0001.eml", "0002.eml"} {
		raw, err := os.ReadFile(filepath.Join(fixtureDir(t), bob, "INBOX", f))
		if err != nil {
			t.Fatal(err)
		}
		u.Append("INBOX", literal{strings.NewReader(string(raw)), int64(len(raw))}, &imap.AppendOptions{})
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return wrap(mem.NewSession()), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestThrottledServer(t *testing.T) {
	var left atomic.Int32
	left.Store(2)
	addr := startWrapped(t, func(s imapserver.Session) imapserver.Session { return throttling{s, &left} })
	s := newSource(t, server{"throttled", addr}, bob, "")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	c := s.(connectors.Metered).Counters()
	if c.Throttled != 2 || c.Reconnects != 2 {
		t.Errorf("counters %+v, want throttled=2 reconnects=2", c)
	}
	var names []string
	for _, it := range rec.Content() {
		names = append(names, it.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Agenda.docx", "Business Case v2.docx"}) {
		t.Errorf("after throttling got %v", names)
	}
}

// limited refuses a login while max sessions are logged in, as Dovecot's
// mail_max_userip_connections does, and says so on refused.
type limited struct {
	imapserver.Session
	active  *atomic.Int32
	max     int32
	in      bool
	refused chan<- struct{}
}

func (l *limited) Login(user, pass string) error {
	if l.active.Add(1) > l.max {
		l.active.Add(-1)
		select {
		case l.refused <- struct{}{}:
		default:
		}
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Maximum number of connections from user+IP exceeded"}
	}
	l.in = true
	return l.Session.Login(user, pass)
}

func (l *limited) Close() error {
	if l.in {
		l.active.Add(-1)
	}
	return l.Session.Close()
}

// A login refused for too many connections (several workers, or several
// parts of one account, on one server) is tried again after a back-off,
// not reported as the item's problem: an Open made while two others hold
// the server's two connections waits for one to be given back.
func TestLoginLimitIsWaitedOut(t *testing.T) {
	var active atomic.Int32
	refused := make(chan struct{}, 1)
	addr := startWrapped(t, func(s imapserver.Session) imapserver.Session {
		return &limited{Session: s, active: &active, max: 2, refused: refused}
	})
	s := newSource(t, server{"limited", addr}, bob, "")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	items := rec.Content()
	if len(items) != 2 {
		t.Fatalf("scan found %d attachments, want 2", len(items))
	}
	want := make([][]byte, len(items))
	for i, it := range items {
		want[i] = connectortest.ReadAll(t, s, it)
	}
	s.Close()
	// Another process (s1) holds the account's two connections: the
	// Open of this one (s2) is refused until s1 gives them back.
	ctx := t.Context()
	s1 := newSource(t, server{"limited", addr}, bob, "")
	a, err := s1.Open(ctx, items[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := s1.Open(ctx, items[1])
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-refused: // s1 waited for the scan's connection to be closed
	default:
	}
	s2 := newSource(t, server{"limited", addr}, bob, "")
	defer s2.Close()
	type result struct {
		data []byte
		err  error
	}
	third := make(chan result, 1)
	go func() {
		rc, err := s2.Open(ctx, items[0])
		if err != nil {
			third <- result{nil, err}
			return
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		third <- result{data, err}
	}()
	select {
	case <-refused:
	case r := <-third:
		t.Fatalf("the Open did not wait for a connection: %v", r.err)
	}
	a.Close()
	b.Close()
	s1.Close() // logs out: the server has room again
	r := <-third
	if r.err != nil || !bytes.Equal(r.data, want[0]) {
		t.Fatalf("the Open, once the connections were given back: %d bytes, %v", len(r.data), r.err)
	}
	if c := s2.(connectors.Metered).Counters(); c.Throttled == 0 || c.Problems != 0 {
		t.Errorf("counters %+v: want the refused login counted as throttling, no problem", c)
	}
}
