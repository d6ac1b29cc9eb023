package imap_test

import (
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

func TestThrottledServer(t *testing.T) {
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
	var left atomic.Int32
	left.Store(2)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return throttling{mem.NewSession(), &left}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	s := newSource(t, server{"throttled", ln.Addr().String()}, bob, "")
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
