package imap_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
)

// cutProxy forwards to a server and, when armed, cuts the next connection
// after a given number of server-to-client bytes (a drop mid-response).
type cutProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Int64
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	return p
}

func (p *cutProxy) handle(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	defer c.Close()
	defer s.Close()
	go io.Copy(s, c)
	if n := p.cut.Swap(0); n > 0 {
		io.CopyN(c, s, n)
		return
	}
	io.Copy(c, s)
}

// wantNone is a Recorder that wants no item fetched with its batch.
type wantNone struct{ *connectortest.Recorder }

func (wantNone) Wants(context.Context, *connectors.Item) (bool, error) { return false, nil }

func refSet(items []*connectors.Item) []string {
	var out []string
	for _, it := range items {
		if !slices.Contains(out, string(it.Ref)) {
			out = append(out, string(it.Ref))
		}
	}
	slices.Sort(out)
	return out
}

// TestScanSurvivesDrop: the scan connection is cut mid-response; the scan
// reconnects, resumes and reports the same items as an undisturbed scan.
func TestScanSurvivesDrop(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		s := newSource(t, srv, alice, "")
		want, _ := connectortest.Scan(t, s, nil)
		s.Close()
		p := newCutProxy(t, srv.addr)
		p.cut.Store(5000) // past login and LIST, inside the INBOX metadata
		s2 := newSource(t, server{srv.kind, p.ln.Addr().String()}, alice, "")
		defer s2.Close()
		got, _ := connectortest.Scan(t, s2, nil)
		if c := s2.(connectors.Metered).Counters(); c.Reconnects < 1 {
			t.Errorf("no reconnect counted: %v", c)
		}
		for _, p := range got.Problems {
			t.Logf("problem: %s: %v", p.Name, p.Err)
		}
		if w, g := refSet(want.Items), refSet(got.Items); !slices.Equal(w, g) {
			t.Errorf("after a drop the scan reported\n%v\nwant\n%v", g, w)
		}
	})
}

// TestOpenDropMidLiteral: a connection cut inside an attachment's literal
// gives a retryable error naming the item; the next Open succeeds.
func TestOpenDropMidLiteral(t *testing.T) {
	srv := startDovecot(t)
	s := newSource(t, srv, alice, "")
	// A sink that wants nothing fetched with the scan: each Open reads the
	// server.
	rec := &wantNone{Recorder: &connectortest.Recorder{}}
	if _, err := s.Scan(t.Context(), nil, rec); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var big *connectors.Item
	for _, it := range rec.Content() {
		if it.Name == "Quarterly Report.pdf" {
			big = it
		}
	}
	if big == nil {
		t.Fatal("fixture item missing")
	}
	p := newCutProxy(t, srv.addr)
	s2 := newSource(t, server{srv.kind, p.ln.Addr().String()}, alice, "")
	defer s2.Close()
	p.cut.Store(8000)
	rc, err := s2.Open(context.Background(), big)
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	if err == nil || !connectors.IsRetryable(err) || !strings.Contains(err.Error(), string(big.Ref)) {
		t.Fatalf("cut mid-literal: err=%v, want a retryable error naming %s", err, big.Ref)
	}
	rc, err = s2.Open(context.Background(), big)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(b) < 30000 {
		t.Fatalf("second open: %d bytes, %v", len(b), err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal("unexpected cancel")
	}
}

// TestUnparseableIsAProblem: the memory server cannot describe INBOX uid 8
// (it drops the connection); it is reported as a problem naming mailbox
// and UID, and every other message is still reported.
func TestUnparseableIsAProblem(t *testing.T) {
	srv := startMemory(t)
	s := newSource(t, srv, alice, "")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	found := false
	for _, p := range rec.Problems {
		if strings.Contains(p.Error(), "INBOX uid 8") {
			found = true
		}
	}
	if !found {
		t.Errorf("no problem for INBOX uid 8: %v", rec.Problems)
	}
	if n := len(rec.Content()); n < 15 {
		t.Errorf("only %d items after the bad message", n)
	}
}
