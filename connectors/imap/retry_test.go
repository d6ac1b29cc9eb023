package imap_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
)

// TestRetryEqualsScan: every item of the fixture account (TNEF files,
// nested messages, skipped parts, fixed-up names) listed again by its Ref
// equals the scanned item, and opens to the same bytes.
func TestRetryEqualsScan(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		s := newSource(t, srv, alice, "")
		defer s.Close()
		rec, _ := connectortest.Scan(t, s, nil)
		connectortest.CheckRetry(t, s, s.(connectors.Retrier), rec.Items)
	})
}

// TestRetryMessageProblem: a message the scan could only report as a
// problem (the memory server cannot describe INBOX uid 8) is retried by the
// problem's message Ref and comes back as a problem with that Ref, not as
// an error of the whole Retry; a message Ref of a good message brings
// back all of its parts.
func TestRetryMessageProblem(t *testing.T) {
	srv := startMemory(t)
	s := newSource(t, srv, alice, "")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	var bad connectors.Ref
	for _, p := range rec.Problems {
		if strings.Contains(p.Error(), "INBOX uid 8") {
			bad = p.Ref
		}
	}
	if bad == "" {
		t.Fatalf("no problem with a Ref for INBOX uid 8: %v", rec.Problems)
	}
	var good *connectors.Item
	for _, it := range rec.Content() {
		if it.Name == "Quarterly Report.pdf" {
			good = it
		}
	}
	msgRef := connectors.Ref(good.Ref[:strings.LastIndexByte(string(good.Ref), '/')])
	got := &connectortest.Recorder{}
	if err := s.(connectors.Retrier).Retry(context.Background(), []connectors.Ref{bad, msgRef}, got); err != nil {
		t.Fatal(err)
	}
	if len(got.Problems) != 1 || got.Problems[0].Ref != bad {
		t.Errorf("problems %v, want one with Ref %s", got.Problems, bad)
	}
	found := false
	for _, it := range got.Items {
		if it.Ref == good.Ref {
			found = true
			if d := connectortest.SameItem(good, it); d != "" {
				t.Errorf("part retried by its message: %s", d)
			}
		}
	}
	if !found {
		t.Errorf("retry of message %s did not report %s", msgRef, good.Ref)
	}
}

// TestRetryGone: an expunged UID and a changed UIDVALIDITY give problems
// with the asked Refs wrapping ErrNotFound; the other refs still come back.
func TestRetryGone(t *testing.T) {
	srv := startDovecot(t)
	s := newSource(t, srv, alice, "")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	var gone, kept *connectors.Item
	for _, it := range rec.Content() {
		switch {
		case it.Lineage.Mailbox == "INBOX" && gone == nil:
			gone = it
		case it.Lineage.Mailbox == "INBOX" && it.Lineage.UID != gone.Lineage.UID && kept == nil:
			kept = it
		}
	}
	if gone == nil || kept == nil {
		t.Fatal("fixture: want two INBOX messages with attachments")
	}
	expunge(t, login(t, srv.addr, alice), "INBOX", gone.Lineage.UID)
	stale := connectors.Ref(strings.Replace(string(kept.Ref), "/"+itoa(kept.Lineage.UIDValidity)+"/", "/"+itoa(kept.Lineage.UIDValidity+1)+"/", 1))
	got := &connectortest.Recorder{}
	if err := s.(connectors.Retrier).Retry(context.Background(), []connectors.Ref{gone.Ref, stale, kept.Ref}, got); err != nil {
		t.Fatal(err)
	}
	probs := map[connectors.Ref]error{}
	for _, p := range got.Problems {
		probs[p.Ref] = p.Err
	}
	for _, r := range []connectors.Ref{gone.Ref, stale} {
		if err := probs[r]; !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("retry of %s: problem %v, want one wrapping ErrNotFound", r, err)
		}
	}
	if len(got.Problems) != 2 {
		t.Errorf("problems %v, want 2", got.Problems)
	}
	found := false
	for _, it := range got.Items {
		found = found || it.Ref == kept.Ref
	}
	if !found {
		t.Errorf("retry did not report %s beside the gone refs", kept.Ref)
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
