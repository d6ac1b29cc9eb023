// Package memory is the in-memory reference Source, for engine tests and
// as the simplest example of the connector contract.
package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/syncd/syncd/connectors"
)

// File is one item held by the source.
type File struct {
	Path    string // "Folder/name.docx"
	Data    []byte
	ModTime time.Time
	Author  string
	Skip    string
	Lineage connectors.Lineage
}

// Source holds files in memory. Each change bumps a generation number; the
// cursor is the generation last seen.
type Source struct {
	name string
	mu   sync.Mutex
	gen  int64
	// files by path, with the generation that last changed them.
	files map[string]entry
	// CheckpointEvery items (default 100).
	CheckpointEvery int
	// failOpen, when set, can make Open fail for a path (fault tests).
	failOpen func(path string) error
	// failScan, when set, can make Scan and Retry report a path as a
	// Problem instead of an item (fault tests).
	failScan func(path string) error
}

var (
	_ connectors.Retrier     = (*Source)(nil)
	_ connectors.Partitioner = (*Source)(nil)
)

type entry struct {
	f    File
	gen  int64
	gone bool // removed: reported gone to scans from before gen
}

var _ connectors.Source = (*Source)(nil)

// New returns an empty source.
func New(name string) *Source { return &Source{name: name, files: map[string]entry{}} }

// Put adds or replaces a file.
func (s *Source) Put(f File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.files[f.Path] = entry{f: f, gen: s.gen}
}

// Remove deletes a file, as if it was deleted at the source.
func (s *Source) Remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if e, ok := s.files[path]; ok && !e.gone {
		s.files[path] = entry{f: e.f, gen: s.gen, gone: true}
	}
}

// FailOpen makes Open return fn's error for a path while fn returns one
// (nil restores normal reads).
func (s *Source) FailOpen(fn func(path string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failOpen = fn
}

// FailScan makes Scan and Retry report a path as a Problem with fn's
// error, instead of the item, while fn returns one for it (nil restores
// normal listing): an item the source cannot read.
func (s *Source) FailScan(fn func(path string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failScan = fn
}

// Retry implements connectors.Retrier: each ref is a path.
func (s *Source) Retry(ctx context.Context, refs []connectors.Ref, sink connectors.Sink) error {
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		e, ok := s.files[string(ref)]
		fail := s.failScan
		s.mu.Unlock()
		if !ok || e.gone {
			if err := sink.Problem(ctx, connectors.Problem{Ref: ref, Name: string(ref), Err: fmt.Errorf("memory %s: %s: %w", s.name, ref, connectors.ErrNotFound)}); err != nil {
				return err
			}
			continue
		}
		if err := s.report(ctx, sink, e, fail); err != nil {
			return err
		}
	}
	return nil
}

// report hands the sink e's item, or the Problem fail gives for its path.
func (s *Source) report(ctx context.Context, sink connectors.Sink, e entry, fail func(string) error) error {
	if e.gone {
		return sink.Gone(ctx, connectors.Gone{Ref: connectors.Ref(e.f.Path), Name: e.f.Path, Why: "deleted"})
	}
	if fail != nil {
		if err := fail(e.f.Path); err != nil {
			return sink.Problem(ctx, connectors.Problem{Ref: connectors.Ref(e.f.Path), Name: e.f.Path,
				Err: fmt.Errorf("memory %s: read %s: %w", s.name, e.f.Path, err)})
		}
	}
	return sink.Item(ctx, s.item(e))
}

// Name implements connectors.Source.
func (s *Source) Name() string { return s.name }

// Kind implements connectors.Source.
func (s *Source) Kind() string { return "memory" }

type cursor struct {
	Gen int64 `json:"gen"`
}

// Scan implements connectors.Source.
func (s *Source) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	return s.scan(ctx, cur, sink, func(string) bool { return true })
}

// partOf is the part a path belongs to: its top-level folder, or
// connectors.RootPart.
func partOf(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return connectors.RootPart
}

// Parts implements connectors.Partitioner: the top-level folders, and
// connectors.RootPart when files lie outside them.
func (s *Source) Parts(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	set := map[string]bool{}
	for p, e := range s.files {
		if !e.gone {
			set[partOf(p)] = true
		}
	}
	s.mu.Unlock()
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// ScanPart implements connectors.Partitioner.
func (s *Source) ScanPart(ctx context.Context, part string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	return s.scan(ctx, cur, sink, func(p string) bool { return partOf(p) == part })
}

func (s *Source) scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink, in func(path string) bool) (connectors.Cursor, error) {
	var c cursor
	if len(cur) > 0 {
		if err := json.Unmarshal(cur, &c); err != nil {
			return nil, fmt.Errorf("memory %s: bad cursor: %w", s.name, err)
		}
	}
	s.mu.Lock()
	gen, fail := s.gen, s.failScan
	var todo []entry
	for p, e := range s.files {
		if in(p) && e.gen > c.Gen && !(e.gone && len(cur) == 0) {
			todo = append(todo, e)
		}
	}
	s.mu.Unlock()
	sort.Slice(todo, func(i, j int) bool { return todo[i].gen < todo[j].gen })
	every := s.CheckpointEvery
	if every <= 0 {
		every = 100
	}
	for i, e := range todo {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.report(ctx, sink, e, fail); err != nil {
			return nil, err
		}
		if (i+1)%every == 0 {
			cp, _ := json.Marshal(cursor{Gen: e.gen})
			if err := sink.Checkpoint(ctx, cp); err != nil {
				return nil, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, _ := json.Marshal(cursor{Gen: gen})
	return out, nil
}

func (s *Source) item(e entry) *connectors.Item {
	dir, name := split(e.f.Path)
	lin := e.f.Lineage
	if lin.Kind == "" {
		lin.Kind = "share"
	}
	return &connectors.Item{
		Ref:         connectors.Ref(e.f.Path),
		Name:        name,
		Path:        dir,
		Size:        int64(len(e.f.Data)),
		Fingerprint: strconv.FormatInt(e.gen, 10),
		ModTime:     e.f.ModTime,
		Author:      e.f.Author,
		Skip:        e.f.Skip,
		Lineage:     lin,
	}
}

func split(p string) (dir, name string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i], p[i+1:]
		}
	}
	return "", p
}

// Open implements connectors.Source.
func (s *Source) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	e, ok := s.files[string(it.Ref)]
	ok = ok && !e.gone
	fail := s.failOpen
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("memory %s: open %s: %w", s.name, it.Ref, connectors.ErrNotFound)
	}
	if fail != nil {
		if err := fail(string(it.Ref)); err != nil {
			return nil, fmt.Errorf("memory %s: open %s: %w", s.name, it.Ref, err)
		}
	}
	return io.NopCloser(bytes.NewReader(e.f.Data)), nil
}

// Close implements connectors.Source.
func (s *Source) Close() error { return nil }
