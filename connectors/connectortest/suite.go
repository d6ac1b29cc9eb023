// Package connectortest is the conformance suite every connector passes.
package connectortest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/internal/yamlx"
)

// Harness adapts one connector under test to the suite.
type Harness struct {
	// New returns a fresh Source over the fixture (the same fixture each
	// call, including changes made by Mutate).
	New func(t *testing.T) connectors.Source
	// Mutate changes the fixture: adds or modifies items. It returns the
	// Names of the items a rescan from the previous cursor must report (and
	// the only non-skipped ones it may report).
	Mutate func(t *testing.T) []string
	// Repeats allows a rescan to report unchanged items again (sources that
	// cannot tell). Default false: a rescan reports only changes.
	Repeats bool
	// Break, if set, makes part of the fixture unreadable, so that a scan
	// must report it with sink.Problem (a folder the server refuses, a
	// message whose attachment cannot be decoded, an item the source
	// cannot read), and says what that Problem must name. The suite calls
	// it last and does not restore the fixture.
	Break func(t *testing.T) Broken
}

// Broken is what a Harness's Break made unreadable.
type Broken struct {
	// Ref is the Ref of the Problem a scan must report. Items at or below
	// it (see Within) may be missing from that scan; every other item the
	// scan reported before the break must still be reported.
	Ref connectors.Ref
	// Mentions is text the Problem's Error() must contain: the item as a
	// person would recognise it ("INBOX uid 3", "HR/").
	Mentions string
}

// Within reports whether ref is parent or below it: parent followed by
// "/" (a message's parts, a folder's files), or anything starting with a
// parent that ends in "/".
func Within(ref, parent connectors.Ref) bool {
	if ref == parent {
		return true
	}
	p := string(parent)
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return strings.HasPrefix(string(ref), p)
}

// Recorder is a Sink that keeps what it is told.
type Recorder struct {
	mu          sync.Mutex
	Items       []*connectors.Item
	Problems    []connectors.Problem
	Checkpoints []connectors.Cursor
	Gones       []connectors.Gone
	// OnItem, if set, is called for each item (after recording).
	OnItem func(ctx context.Context, it *connectors.Item) error
	// at[i] is len(Items) when Checkpoints[i] came: the items it covers.
	at []int
}

// Item implements connectors.Sink.
func (r *Recorder) Item(ctx context.Context, it *connectors.Item) error {
	r.mu.Lock()
	r.Items = append(r.Items, it)
	r.mu.Unlock()
	if r.OnItem != nil {
		return r.OnItem(ctx, it)
	}
	return nil
}

// Problem implements connectors.Sink.
func (r *Recorder) Problem(_ context.Context, p connectors.Problem) error {
	r.mu.Lock()
	r.Problems = append(r.Problems, p)
	r.mu.Unlock()
	return nil
}

// Gone implements connectors.Sink.
func (r *Recorder) Gone(_ context.Context, g connectors.Gone) error {
	r.mu.Lock()
	r.Gones = append(r.Gones, g)
	r.mu.Unlock()
	return nil
}

// Checkpoint implements connectors.Sink.
func (r *Recorder) Checkpoint(_ context.Context, c connectors.Cursor) error {
	r.mu.Lock()
	r.Checkpoints = append(r.Checkpoints, append(connectors.Cursor(nil), c...))
	r.at = append(r.at, len(r.Items))
	r.mu.Unlock()
	return nil
}

// Content returns the non-skipped items.
func (r *Recorder) Content() []*connectors.Item {
	var out []*connectors.Item
	for _, it := range r.Items {
		if it.Skip == "" {
			out = append(out, it)
		}
	}
	return out
}

// Scan runs a full scan from cur and fails the test on error.
func Scan(t *testing.T, s connectors.Source, cur connectors.Cursor) (*Recorder, connectors.Cursor) {
	t.Helper()
	return scan(t, s, cur)
}

func scan(t errorer, s connectors.Source, cur connectors.Cursor) (*Recorder, connectors.Cursor) {
	t.Helper()
	rec := &Recorder{}
	next, err := s.Scan(context.Background(), cur, rec)
	if err != nil {
		t.Fatalf("%s: scan: %v", s.Name(), err)
	}
	return rec, next
}

// ReadAll opens an item and reads it whole.
func ReadAll(t *testing.T, s connectors.Source, it *connectors.Item) []byte {
	t.Helper()
	return readAllT(t, s, it)
}

func readAllT(t errorer, s connectors.Source, it *connectors.Item) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		t.Fatalf("open %s: %v", it.Ref, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", it.Ref, err)
	}
	return b
}

func readAll(s connectors.Source, it *connectors.Item) ([]byte, error) {
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// errorer is what the suite's checks need of a test; *testing.T has it.
type errorer interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// tb is a test that runs the suite: *testing.T (through testT), or, in the
// suite's own tests, a recorder that runs it against broken sources and
// keeps the failures instead of failing.
type tb interface {
	errorer
	run(name string, f func(t tb)) bool
	// harness is the *testing.T handed to the Harness's functions.
	harness() *testing.T
}

type testT struct{ *testing.T }

func (t testT) run(name string, f func(t tb)) bool {
	return t.T.Run(name, func(t *testing.T) { f(testT{t}) })
}

func (t testT) harness() *testing.T { return t.T }

// Run runs the conformance suite: the contract written on
// connectors.Source and connectors.Retrier, check by check.
func Run(t *testing.T, h Harness) { run(testT{t}, h) }

func run(t tb, h Harness) {
	var cursor connectors.Cursor
	t.run("FullScan", func(t tb) {
		s := h.New(t.harness())
		defer s.Close()
		if s.Name() == "" || s.Kind() == "" {
			t.Errorf("Name()=%q Kind()=%q: both must be set", s.Name(), s.Kind())
		}
		rec, cur := scan(t, s, nil)
		cursor = cur
		content := rec.Content()
		if len(content) == 0 {
			t.Fatalf("full scan found no content items")
		}
		refs := map[connectors.Ref]bool{}
		for _, it := range rec.Items {
			if it.Ref == "" {
				t.Errorf("item %q has no Ref", it.Name)
			}
			if refs[it.Ref] {
				t.Errorf("ref %q reported twice in one scan", it.Ref)
			}
			refs[it.Ref] = true
			if it.Lineage.Kind == "" {
				t.Errorf("item %s: Lineage.Kind not set", it.Ref)
			}
		}
		for _, it := range content {
			b := readAllT(t, s, it)
			if it.Size >= 0 && int64(len(b)) != it.Size {
				t.Errorf("item %s: Size=%d but Open returned %d bytes", it.Ref, it.Size, len(b))
			}
		}
	})
	t.run("ResumeFromEveryCheckpoint", func(t tb) { checkResume(t, h) })
	t.run("OpenWhileScanning", func(t tb) { checkOpenWhileScanning(t, h) })
	t.run("RescanUnchanged", func(t tb) {
		s := h.New(t.harness())
		defer s.Close()
		rec, _ := scan(t, s, cursor)
		if n := len(rec.Content()); n != 0 && !h.Repeats {
			t.Errorf("rescan of an unchanged source reported %d content items, want 0 (first: %s)", n, rec.Content()[0].Ref)
		}
	})
	if h.Mutate != nil {
		t.run("RescanSeesOnlyChanges", func(t tb) {
			want := h.Mutate(t.harness())
			s := h.New(t.harness())
			defer s.Close()
			rec, _ := scan(t, s, cursor)
			got := map[string]bool{}
			for _, it := range rec.Content() {
				got[it.Name] = true
			}
			for _, w := range want {
				if !got[w] {
					t.Errorf("rescan after change did not report %q (got %v)", w, keys(got))
				}
			}
			if !h.Repeats {
				wantSet := map[string]bool{}
				for _, w := range want {
					wantSet[w] = true
				}
				for g := range got {
					if !wantSet[g] {
						t.Errorf("rescan reported unchanged item %q", g)
					}
				}
			}
			for _, it := range rec.Content() {
				if wantContains(want, it.Name) {
					b := readAllT(t, s, it)
					if it.Size >= 0 && int64(len(b)) != it.Size {
						t.Errorf("changed item %s: Size=%d, read %d", it.Ref, it.Size, len(b))
					}
				}
			}
		})
	}
	t.run("Cancel", func(t tb) {
		s := h.New(t.harness())
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Scan(ctx, nil, &Recorder{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("scan with a cancelled context: err=%v, want context.Canceled", err)
		}
	})
	t.run("CancelMidScan", func(t tb) {
		s := h.New(t.harness())
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := &Recorder{OnItem: func(context.Context, *connectors.Item) error { cancel(); return nil }}
		_, err := s.Scan(ctx, nil, rec)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("scan cancelled after the first item: err=%v, want context.Canceled", err)
		}
	})
	probe := h.New(t.harness())
	_, retrier := probe.(connectors.Retrier)
	probe.Close()
	if retrier { // the real connectors assert at compile time that they are
		t.run("Retry", func(t tb) {
			s := h.New(t.harness())
			defer s.Close()
			rec, _ := scan(t, s, nil)
			checkRetry(t, s, s.(connectors.Retrier), rec.Items)
		})
	}
	if _, ok := probe.(connectors.Partitioner); ok {
		t.run("Parts", func(t tb) { checkParts(t, h) })
	}
	t.run("OpenMissingNamesItem", func(t tb) {
		s := h.New(t.harness())
		defer s.Close()
		rec, _ := scan(t, s, nil)
		content := rec.Content()
		if len(content) == 0 {
			t.Fatalf("no items")
		}
		bogus := *content[0]
		bogus.Ref = bogus.Ref + "-does-not-exist"
		bogus.Name = "does-not-exist-" + bogus.Name
		bogus.Private = nil
		rc, err := s.Open(context.Background(), &bogus)
		if err == nil {
			rc.Close()
			t.Fatalf("Open of a missing item %q succeeded", bogus.Ref)
		}
		if !strings.Contains(err.Error(), string(bogus.Ref)) && !strings.Contains(err.Error(), bogus.Name) {
			t.Errorf("Open error %q names neither the ref %q nor the name %q", err, bogus.Ref, bogus.Name)
		}
	})
	if h.Break != nil {
		t.run("ProblemAndScanGoesOn", func(t tb) { checkProblem(t, h) })
	}
}

// checkParts: the parts' scans, from nil cursors, report exactly the
// items of a whole scan, each in one part; a rescan of a part from its
// cursor reports nothing new; a part that is not there reports nothing.
func checkParts(t tb, h Harness) {
	s := h.New(t.harness())
	defer s.Close()
	p := s.(connectors.Partitioner)
	ctx := context.Background()
	whole, _ := scan(t, s, nil)
	parts, err := p.Parts(ctx)
	if err != nil {
		t.Fatalf("%s: parts: %v", s.Name(), err)
	}
	if len(parts) == 0 {
		t.Fatalf("%s: no parts, but a whole scan reported %d items", s.Name(), len(whole.Items))
	}
	if !sort.StringsAreSorted(parts) {
		t.Errorf("parts not sorted: %q", parts)
	}
	inPart := map[string]string{}
	cursors := map[string]connectors.Cursor{}
	for i, part := range parts {
		if i > 0 && parts[i-1] == part {
			t.Errorf("part %q listed twice", part)
		}
		rec := &Recorder{}
		cur, err := p.ScanPart(ctx, part, nil, rec)
		if err != nil {
			t.Fatalf("%s: scan part %q: %v", s.Name(), part, err)
		}
		cursors[part] = cur
		if len(rec.Gones) > 0 {
			t.Errorf("part %q from a nil cursor reported %d items gone", part, len(rec.Gones))
		}
		for _, it := range rec.Items {
			k := key(it)
			if other, ok := inPart[k]; ok && other != part {
				t.Errorf("item %s reported in part %q and in part %q", it.Ref, other, part)
			}
			inPart[k] = part
		}
	}
	for _, it := range whole.Items {
		if _, ok := inPart[key(it)]; !ok {
			t.Errorf("item %s of a whole scan is in no part", it.Ref)
		}
		delete(inPart, key(it))
	}
	for k, part := range inPart {
		t.Errorf("part %q reported %q, which a whole scan did not", part, strings.ReplaceAll(k, "\x00", " "))
	}
	if !h.Repeats {
		for _, part := range parts {
			rec := &Recorder{}
			if _, err := p.ScanPart(ctx, part, cursors[part], rec); err != nil {
				t.Fatalf("%s: rescan part %q: %v", s.Name(), part, err)
			}
			if n := len(rec.Content()); n != 0 {
				t.Errorf("rescan of unchanged part %q reported %d items (first: %s)", part, n, rec.Content()[0].Ref)
			}
		}
	}
	rec := &Recorder{}
	if _, err := p.ScanPart(ctx, "no such part \x01", nil, rec); err != nil {
		t.Errorf("scan of a part that is not there: %v, want nothing reported and no error", err)
	}
	if len(rec.Items)+len(rec.Gones)+len(rec.Problems) > 0 {
		t.Errorf("scan of a part that is not there reported %d items, %d gone, %d problems", len(rec.Items), len(rec.Gones), len(rec.Problems))
	}
}

// key is how the resume check compares items: the same Ref with the same
// Fingerprint is the same content at the same place.
func key(it *connectors.Item) string { return string(it.Ref) + "\x00" + it.Fingerprint }

// checkResume: for every checkpoint of a full scan, a scan from that
// cursor reports (at least) every item the full scan reported after it,
// and the cursor it returns covers what it reported (a scan from it
// reports nothing, unless the source repeats).
func checkResume(t tb, h Harness) {
	s := h.New(t.harness())
	defer s.Close()
	full, _ := scan(t, s, nil)
	if len(full.Checkpoints) == 0 {
		t.Fatalf("a full scan of %d items made no checkpoint: nothing to resume from (make the harness's fixture or options produce some)", len(full.Items))
	}
	for i, cp := range full.Checkpoints {
		if i > 0 && string(cp) == string(full.Checkpoints[i-1]) {
			continue
		}
		after := full.Items[full.at[i]:]
		rec, next := scan(t, s, cp)
		got := map[string]bool{}
		for _, it := range rec.Items {
			got[key(it)] = true
		}
		missed := 0
		for _, it := range after {
			if !got[key(it)] {
				missed++
				if missed <= 3 {
					t.Errorf("resumed from checkpoint %d of %d (after %d of %d items): %s (%s, fingerprint %q) not reported",
						i+1, len(full.Checkpoints), full.at[i], len(full.Items), it.Ref, it.Name, it.Fingerprint)
				}
			}
		}
		if missed > 3 {
			t.Errorf("resumed from checkpoint %d: %d items missed in all", i+1, missed)
		}
		if h.Repeats {
			continue
		}
		again, _ := scan(t, s, next)
		if c := again.Content(); len(c) > 0 {
			t.Errorf("resumed from checkpoint %d: a scan from the cursor it returned reported %d content items again (first: %s): that cursor does not cover them",
				i+1, len(c), c[0].Ref)
		}
	}
}

// checkOpenWhileScanning opens every content item during a scan, from
// inside the Item callback and from another goroutine, and compares the
// bytes with an Open after the scan.
func checkOpenWhileScanning(t tb, h Harness) {
	s := h.New(t.harness())
	defer s.Close()
	type read struct {
		sum [sha256.Size]byte
		n   int64
		err error
	}
	var (
		mu      sync.Mutex
		inside  = map[connectors.Ref]read{}
		outside = map[connectors.Ref]read{}
		prev    chan struct{} // closed when the previous item's goroutine read it
	)
	readSum := func(ctx context.Context, it *connectors.Item) read {
		rc, err := s.Open(ctx, it)
		if err != nil {
			return read{err: err}
		}
		defer rc.Close()
		hs := sha256.New()
		n, err := io.Copy(hs, rc)
		var r read
		copy(r.sum[:], hs.Sum(nil))
		r.n, r.err = n, err
		return r
	}
	rec := &Recorder{OnItem: func(ctx context.Context, it *connectors.Item) error {
		// Each item is read on another goroutine while the scan goes on;
		// the next callback waits for it, so every read but the last
		// overlaps the scan for certain.
		done := make(chan struct{})
		mu.Lock()
		wait := prev
		prev = done
		mu.Unlock()
		if wait != nil {
			<-wait
		}
		if it.Skip != "" {
			close(done)
			return nil
		}
		r := readSum(ctx, it)
		mu.Lock()
		inside[it.Ref] = r
		mu.Unlock()
		go func() {
			defer close(done)
			r := readSum(context.Background(), it)
			mu.Lock()
			outside[it.Ref] = r
			mu.Unlock()
		}()
		return nil
	}}
	_, err := s.Scan(context.Background(), nil, rec)
	mu.Lock()
	last := prev
	mu.Unlock()
	if last != nil {
		<-last
	}
	if err != nil {
		t.Fatalf("scan that opened its items: %v", err)
	}
	content := rec.Content()
	if len(content) == 0 {
		t.Fatalf("the scan found no content items")
	}
	for _, it := range content {
		want := readSum(context.Background(), it)
		if want.err != nil {
			t.Errorf("item %s: Open after the scan: %v", it.Ref, want.err)
			continue
		}
		if it.Size >= 0 && want.n != it.Size {
			t.Errorf("item %s: Size=%d but Open after the scan read %d bytes", it.Ref, it.Size, want.n)
		}
		for _, c := range []struct {
			where string
			got   read
		}{{"inside the Item callback", inside[it.Ref]}, {"on another goroutine during the scan", outside[it.Ref]}} {
			switch {
			case c.got.err != nil:
				t.Errorf("item %s: Open %s: %v", it.Ref, c.where, c.got.err)
			case c.got.sum != want.sum || c.got.n != want.n:
				t.Errorf("item %s: Open %s read %d bytes unlike the %d read after the scan", it.Ref, c.where, c.got.n, want.n)
			}
		}
	}
}

// checkProblem breaks part of the fixture and checks that a full scan
// reports a Problem with the broken Ref, naming it, goes on, and still
// reports every other item; and that Retry of that Ref reports it again
// (as items or as a Problem with that Ref).
func checkProblem(t tb, h Harness) {
	s := h.New(t.harness())
	before, _ := scan(t, s, nil)
	s.Close()
	b := h.Break(t.harness())
	s = h.New(t.harness())
	defer s.Close()
	rec := &Recorder{}
	if _, err := s.Scan(context.Background(), nil, rec); err != nil {
		t.Fatalf("scan with an unreadable %s stopped: %v (a problem with one item must not stop the scan)", b.Ref, err)
	}
	var found *connectors.Problem
	for i, p := range rec.Problems {
		if p.Ref == b.Ref {
			found = &rec.Problems[i]
			break
		}
	}
	switch {
	case found == nil:
		t.Errorf("scan with an unreadable %s reported no Problem with that Ref (problems: %v)", b.Ref, rec.Problems)
	case found.Name == "":
		t.Errorf("the Problem for %s has no Name: %v", b.Ref, *found)
	case found.Err == nil:
		t.Errorf("the Problem for %s has no Err", b.Ref)
	case !strings.Contains(found.Error(), b.Mentions):
		t.Errorf("the Problem for %s does not mention %q: %v", b.Ref, b.Mentions, *found)
	}
	got := map[connectors.Ref]bool{}
	for _, it := range rec.Items {
		got[it.Ref] = true
	}
	for _, it := range before.Items {
		if !Within(it.Ref, b.Ref) && !got[it.Ref] {
			t.Errorf("scan with an unreadable %s did not report %s (%s), which it reported before", b.Ref, it.Ref, it.Name)
		}
	}
	r, ok := s.(connectors.Retrier)
	if !ok {
		return
	}
	again := &Recorder{}
	if err := r.Retry(context.Background(), []connectors.Ref{b.Ref}, again); err != nil {
		t.Fatalf("Retry of the unreadable %s: %v (a problem with one item is a Problem, not an error)", b.Ref, err)
	}
	for _, p := range again.Problems {
		if p.Ref == b.Ref {
			return
		}
	}
	for _, it := range again.Items {
		if Within(it.Ref, b.Ref) {
			return
		}
	}
	t.Errorf("Retry of the unreadable %s reported neither an item nor a Problem with that Ref (items %d, problems %v)", b.Ref, len(again.Items), again.Problems)
}

// CheckRetry asks r for every item of scanned again by its Ref, one Retry
// call for all of them, and checks that each comes back equal to the
// scanned one (see SameItem) and opens to the same bytes as the scanned
// item, and that a bogus Ref gives a Problem with that Ref wrapping
// connectors.ErrNotFound.
func CheckRetry(t *testing.T, s connectors.Source, r connectors.Retrier, scanned []*connectors.Item) {
	t.Helper()
	checkRetry(t, s, r, scanned)
}

func checkRetry(t errorer, s connectors.Source, r connectors.Retrier, scanned []*connectors.Item) {
	t.Helper()
	if len(scanned) == 0 {
		t.Fatalf("no scanned items to retry")
	}
	bogus := scanned[0].Ref + "-does-not-exist"
	refs := []connectors.Ref{bogus}
	for _, it := range scanned {
		refs = append(refs, it.Ref)
	}
	rec := &Recorder{}
	if err := r.Retry(context.Background(), refs, rec); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(rec.Checkpoints); n != 0 {
		t.Errorf("Retry called Checkpoint %d times, want 0", n)
	}
	got := map[connectors.Ref]*connectors.Item{}
	for _, it := range rec.Items {
		got[it.Ref] = it
	}
	for _, want := range scanned {
		g := got[want.Ref]
		if g == nil {
			t.Errorf("Retry did not report %s (%s)", want.Ref, want.Name)
			continue
		}
		if d := SameItem(want, g); d != "" {
			t.Errorf("Retry reported %s unlike the scan: %s", want.Ref, d)
			continue
		}
		if want.Skip == "" {
			a, aerr := readAll(s, want)
			b, berr := readAll(s, g)
			switch {
			case (aerr == nil) != (berr == nil):
				t.Errorf("item %s: reading the scanned item: %v; the retried one: %v", want.Ref, aerr, berr)
			case string(a) != string(b):
				t.Errorf("item %s: Open of the retried item read %d bytes, of the scanned one %d", want.Ref, len(b), len(a))
			}
		}
	}
	found := false
	for _, p := range rec.Problems {
		switch {
		case p.Ref == bogus:
			found = true
			if !errors.Is(p.Err, connectors.ErrNotFound) {
				t.Errorf("Retry of the bogus ref %s: problem %v does not wrap ErrNotFound", bogus, p.Err)
			}
		default:
			t.Errorf("Retry of a scanned item reported a problem: %v", p)
		}
	}
	if !found {
		t.Errorf("Retry of the bogus ref %s reported no problem with that Ref (problems: %v)", bogus, rec.Problems)
	}
}

// SameItem describes how got differs from want in what the engine keeps
// (everything but Private), or returns "" when they are the same.
func SameItem(want, got *connectors.Item) string {
	var d []string
	diff := func(field string, w, g any) {
		d = append(d, fmt.Sprintf("%s %v, want %v", field, g, w))
	}
	if want.Ref != got.Ref {
		diff("Ref", want.Ref, got.Ref)
	}
	if want.Name != got.Name {
		diff("Name", want.Name, got.Name)
	}
	if want.Path != got.Path {
		diff("Path", want.Path, got.Path)
	}
	if want.Size != got.Size {
		diff("Size", want.Size, got.Size)
	}
	if want.Fingerprint != got.Fingerprint {
		diff("Fingerprint", want.Fingerprint, got.Fingerprint)
	}
	if !want.ModTime.Equal(got.ModTime) {
		diff("ModTime", want.ModTime, got.ModTime)
	}
	if want.Author != got.Author {
		diff("Author", want.Author, got.Author)
	}
	if want.MediaType != got.MediaType {
		diff("MediaType", want.MediaType, got.MediaType)
	}
	if want.Skip != got.Skip {
		diff("Skip", want.Skip, got.Skip)
	}
	if !maps.Equal(want.Hashes, got.Hashes) {
		diff("Hashes", want.Hashes, got.Hashes)
	}
	wl, gl := want.Lineage, got.Lineage
	if !wl.Date.Equal(gl.Date) {
		diff("Lineage.Date", wl.Date, gl.Date)
	}
	wl.Date, gl.Date = time.Time{}, time.Time{}
	if !reflect.DeepEqual(wl, gl) {
		diff("Lineage", fmt.Sprintf("%+v", wl), fmt.Sprintf("%+v", gl))
	}
	return strings.Join(d, "; ")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func wantContains(want []string, s string) bool {
	for _, w := range want {
		if w == s {
			return true
		}
	}
	return false
}

// Config builds a connectors.Config from YAML text, as the engine would from
// a job's source entry (keys name and type included), for connector tests.
func Config(t testing.TB, yamlText string) connectors.Config {
	t.Helper()
	node, err := yamlx.Parse("test.yaml", yamlText)
	if err != nil {
		t.Fatal(err)
	}
	var base struct {
		Name string `yaml:"name"`
		Type string `yaml:"type"`
	}
	_ = node.Decode(&base)
	return connectors.Config{
		Name: base.Name,
		Type: base.Type,
		Decode: func(v any) error {
			return yamlx.Decode("test.yaml", node, v, connectors.EngineKeys...)
		},
		Env:     &connectors.Env{},
		Secrets: true, // as for a command that opens the source
	}
}
