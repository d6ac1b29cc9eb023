package imap_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	imapsrc "github.com/syncd/syncd/connectors/imap"
)

// wantSome is a Recorder that wants only the items named in want, and
// records what it was asked.
type wantSome struct {
	*connectortest.Recorder
	want    map[string]bool
	mu      sync.Mutex
	asked   []string
	skipped []string // asked about, though skipped
}

func (w *wantSome) Wants(_ context.Context, it *connectors.Item) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked = append(w.asked, it.Name)
	if it.Skip != "" {
		w.skipped = append(w.skipped, it.Name+" ("+it.Skip+")")
	}
	return w.want[it.Name], nil
}

// openBytes reads it through s; fromServer reads the same part by its ref
// alone, from the server.
func openBytes(t *testing.T, s connectors.Source, it *connectors.Item, fromServer bool) []byte {
	t.Helper()
	if fromServer {
		it = &connectors.Item{Ref: it.Ref, Name: it.Name}
	}
	rc, err := s.Open(t.Context(), it)
	if err != nil {
		t.Fatalf("open %s: %v", it.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", it.Name, err)
	}
	return b
}

// Small parts travel with their batch: the scan fetches them (a command
// per shape of message, not one per part), Open serves their bytes with
// no connection of its own, and they are the bytes the server gives for
// the part alone. Parts the sink does not want, skipped parts, and parts
// that do not decode are left to Open.
func TestSmallPartsTravelWithTheirBatch(t *testing.T) {
	for _, binary := range []string{"never", "auto"} {
		t.Run(binary, func(t *testing.T) {
			srv := startDovecot(t)
			s := newSource(t, srv, alice, "binary: "+binary+"\n")
			defer s.Close()
			rec, _ := connectortest.Scan(t, s, nil) // a Recorder wants everything
			logins := s.(connectors.Metered).Counters().Logins
			var batched, alone []*connectors.Item
			for _, it := range rec.Content() {
				if imapsrc.Prefetched(it) {
					batched = append(batched, it)
				} else {
					alone = append(alone, it)
				}
			}
			if len(batched) < 10 {
				t.Fatalf("%d of %d items came with their batch, want most of the fixture's small attachments", len(batched), len(rec.Content()))
			}
			for _, it := range alone {
				// The files inside a winmail.dat and the parts whose base64
				// is broken are the fixture's only ones left to Open.
				if !strings.Contains(it.Lineage.Part, "#") && it.Name != "bad.bin" && it.Name != "long bad.bin" {
					t.Errorf("%s (part %s, %d bytes) was not fetched with its batch", it.Name, it.Lineage.Part, it.Size)
				}
			}
			for _, it := range rec.Items {
				if it.Skip != "" && imapsrc.Prefetched(it) {
					t.Errorf("skipped part %s (%s) was fetched", it.Name, it.Skip)
				}
			}
			for _, it := range batched {
				if it.Name == "bad.bin" || it.Name == "long bad.bin" {
					t.Errorf("%s does not decode, yet came with its batch", it.Name)
				}
			}
			got := map[string][]byte{}
			for _, it := range batched {
				got[string(it.Ref)] = openBytes(t, s, it, false)
				if imapsrc.Prefetched(it) {
					t.Errorf("%s: Open kept the bytes after handing them over", it.Name)
				}
			}
			if n := s.(connectors.Metered).Counters().Logins; n != logins {
				t.Errorf("opening the batched items logged in %d more times, want none (no connection needed)", n-logins)
			}
			for _, it := range batched {
				if want := openBytes(t, s, it, true); !bytes.Equal(got[string(it.Ref)], want) {
					t.Errorf("%s: %d bytes from the batch, the server gives %d for the part alone", it.Name, len(got[string(it.Ref)]), len(want))
				}
			}
		})
	}
}

// A sink that is a connectors.Wanter decides: it is asked about every
// part the scan could fetch (never a skipped one), and only the parts it
// wants come with their batch.
func TestOnlyWantedPartsTravelWithTheirBatch(t *testing.T) {
	srv := startDovecot(t)
	s := newSource(t, srv, alice, "")
	defer s.Close()
	w := &wantSome{Recorder: &connectortest.Recorder{}, want: map[string]bool{"Quarterly Report.pdf": true}}
	if _, err := s.Scan(t.Context(), nil, w); err != nil {
		t.Fatal(err)
	}
	var prefetched []string
	for _, it := range w.Items {
		if imapsrc.Prefetched(it) {
			prefetched = append(prefetched, it.Name)
		}
	}
	if len(w.skipped) > 0 {
		t.Errorf("the sink was asked about skipped parts: %v", w.skipped)
	}
	slices.Sort(prefetched)
	prefetched = slices.Compact(prefetched)
	if !slices.Equal(prefetched, []string{"Quarterly Report.pdf"}) {
		t.Errorf("fetched with their batch: %v, want only the wanted Quarterly Report.pdf", prefetched)
	}
	if len(w.asked) < 10 {
		t.Errorf("the sink was asked about %d parts, want every small part of the fixture", len(w.asked))
	}
}
