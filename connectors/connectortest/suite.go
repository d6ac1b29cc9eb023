// Package connectortest is the conformance suite every connector passes.
package connectortest

import (
	"context"
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

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	var cursor connectors.Cursor
	t.Run("FullScan", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		if s.Name() == "" || s.Kind() == "" {
			t.Errorf("Name()=%q Kind()=%q: both must be set", s.Name(), s.Kind())
		}
		rec, cur := Scan(t, s, nil)
		cursor = cur
		content := rec.Content()
		if len(content) == 0 {
			t.Fatal("full scan found no content items")
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
			b := ReadAll(t, s, it)
			if it.Size >= 0 && int64(len(b)) != it.Size {
				t.Errorf("item %s: Size=%d but Open returned %d bytes", it.Ref, it.Size, len(b))
			}
		}
	})
	t.Run("RescanUnchanged", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		rec, _ := Scan(t, s, cursor)
		if n := len(rec.Content()); n != 0 && !h.Repeats {
			t.Errorf("rescan of an unchanged source reported %d content items, want 0 (first: %s)", n, rec.Content()[0].Ref)
		}
	})
	if h.Mutate != nil {
		t.Run("RescanSeesOnlyChanges", func(t *testing.T) {
			want := h.Mutate(t)
			s := h.New(t)
			defer s.Close()
			rec, _ := Scan(t, s, cursor)
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
					b := ReadAll(t, s, it)
					if it.Size >= 0 && int64(len(b)) != it.Size {
						t.Errorf("changed item %s: Size=%d, read %d", it.Ref, it.Size, len(b))
					}
				}
			}
		})
	}
	t.Run("Cancel", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Scan(ctx, nil, &Recorder{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("scan with a cancelled context: err=%v, want context.Canceled", err)
		}
	})
	t.Run("CancelMidScan", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := &Recorder{OnItem: func(context.Context, *connectors.Item) error { cancel(); return nil }}
		_, err := s.Scan(ctx, nil, rec)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("scan cancelled after the first item: err=%v, want context.Canceled", err)
		}
	})
	probe := h.New(t)
	_, retrier := probe.(connectors.Retrier)
	probe.Close()
	if retrier { // the real connectors assert at compile time that they are
		t.Run("Retry", func(t *testing.T) {
			s := h.New(t)
			defer s.Close()
			rec, _ := Scan(t, s, nil)
			CheckRetry(t, s, s.(connectors.Retrier), rec.Items)
		})
	}
	t.Run("OpenMissingNamesItem", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		rec, _ := Scan(t, s, nil)
		content := rec.Content()
		if len(content) == 0 {
			t.Fatal("no items")
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
}

// CheckRetry asks r for every item of scanned again by its Ref, one Retry
// call for all of them, and checks that each comes back equal to the
// scanned one (see SameItem) and opens to the same bytes as the scanned
// item, and that a bogus Ref gives a Problem with that Ref wrapping
// connectors.ErrNotFound.
func CheckRetry(t *testing.T, s connectors.Source, r connectors.Retrier, scanned []*connectors.Item) {
	t.Helper()
	if len(scanned) == 0 {
		t.Fatal("no scanned items to retry")
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
