// Package connectortest is the conformance suite every connector passes.
package connectortest

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"

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
		Env: &connectors.Env{},
	}
}
