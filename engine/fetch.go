package engine

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/textsketch"
	"github.com/syncd/syncd/workspace"
)

// Fetching: a bounded pool of goroutines streams each item the store does
// not know into the blob store, hashing it and sketching its text as the
// bytes go by; runShared lets the sources of one run store shared content
// once.

// runShared is what a run's sources, ingesting side by side, share: the
// blobs stored in this run but maybe not committed yet, by hash
// kind:value, so that content two sources hold is stored (and counted
// new) once.
type runShared struct {
	mu      sync.Mutex
	pending map[string]dedupe.Sums
}

func newRunShared() *runShared { return &runShared{pending: map[string]dedupe.Sums{}} }

func (r *runShared) lookup(key string) (dedupe.Sums, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.pending[key]
	return s, ok
}

// recoverItem turns a panic while fetching one item (in a connector's Open
// or reader) into that item's problem: the goroutine is the engine's, so no
// caller up the stack could recover it, and the daemon would die.
func (in *ingest) recoverItem(ep *epoch, it *connectors.Item) {
	if v := recover(); v != nil {
		in.log.Error("panic while fetching an item", "item", it.Name, "ref", string(it.Ref), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		in.problem(ep, it, fmt.Errorf("panic: %v", v))
	}
}

// lookupHashes finds stored content by the item's remote hashes.
func (in *ingest) lookupHashes(ctx context.Context, it *connectors.Item) (dedupe.Sums, string, bool, error) {
	for _, kind := range sortedKinds(it.Hashes) {
		v := it.Hashes[kind]
		if v == "" {
			continue
		}
		s, ok := in.shared.lookup(kind + ":" + v)
		if ok {
			return s, kind, true, nil
		}
		s, ok, err := in.e.Catalog.BlobByHash(ctx, kind, v)
		if err != nil {
			return s, "", false, err
		}
		if ok {
			if has, err := in.e.Blobs.Has(ctx, s.ID); err != nil || has {
				return s, kind, has, err
			}
		}
	}
	return dedupe.Sums{}, "", false, nil
}

// sketchMaxBytes bounds the items whose text is sketched: larger ones go
// straight to the blob store, because the sketcher would only read (and
// hash) every byte again to report ErrTooLarge.
const sketchMaxBytes = 512 << 20

// sourceReader remembers the error reading an item's content, which tells
// a source's fault from the blob store's when a Put fails.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// sketched is the text sketcher's result for one item.
type sketched struct {
	c   workspace.Content
	err error
}

// store streams rc into the blob store, sketching its text on the second
// core as the bytes go by (items up to sketchMaxBytes).
func (in *ingest) store(ctx context.Context, it *connectors.Item, rc io.Reader) (dedupe.Sums, sketched, error) {
	if it.Size > sketchMaxBytes {
		sums, err := in.e.Blobs.Put(ctx, rc)
		return sums, sketched{err: textsketch.ErrTooLarge}, err
	}
	pr, pw := io.Pipe()
	done := make(chan sketched, 1)
	text := newTextCap()
	go func() {
		var c history.Content
		var err error
		func() {
			defer func() {
				if v := recover(); v != nil { // a sketcher bug must not kill the process
					err = fmt.Errorf("text sketch: panic: %v", v)
				}
			}()
			c, err = textsketch.Options{MaxBytes: sketchMaxBytes, Text: text}.Sketch(it.Name, pr, it.Size)
		}()
		io.Copy(io.Discard, pr) // drain whatever the sketcher did not read
		done <- sketched{workspace.Content{Kind: c.Kind, Tokens: c.Tokens, Sketch: c.Sketch, Text: text.String(), Modified: c.Modified, Revision: c.Revision}, err}
	}()
	sums, err := in.e.Blobs.Put(ctx, io.TeeReader(rc, pw))
	pw.CloseWithError(err)
	return sums, <-done, err
}

// fetch streams one item into the blob store. Text is sketched only for
// content new to the store: read back from the store after the write (the
// bytes are still in the page cache), or, in a dry run where nothing is
// stored, teed from the download.
func (in *ingest) fetch(ctx context.Context, ep *epoch, it *connectors.Item) {
	if ctx.Err() != nil {
		return
	}
	rc, err := in.src.Open(ctx, it)
	if err != nil {
		in.problem(ep, it, err)
		return
	}
	defer rc.Close()
	_, dry := in.e.Blobs.(dedupe.HashOnly)
	var sums dedupe.Sums
	var res sketched
	src := &sourceReader{r: rc}
	if dry {
		sums, res, err = in.store(ctx, it, src)
	} else {
		sums, err = in.e.Blobs.Put(ctx, src)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if src.err == nil {
			// The item was read whole: the store failed (down, full).
			// The item is fine and is retried on the next run.
			err = connectors.Retryable{Err: fmt.Errorf("blob store: %w", err)}
		}
		in.problem(ep, it, err)
		return
	}
	if want := it.Hashes[connectors.HashSHA256]; want != "" && want != sums.ID.String() {
		in.problem(ep, it, fmt.Errorf("content sha256 %s differs from the source's %s", sums.ID, want))
		return
	}
	_, known, err := in.e.Catalog.BlobByHash(ctx, connectors.HashSHA256, sums.ID.String())
	if err != nil {
		in.fail(err)
		return
	}
	_, pend := in.shared.lookup(connectors.HashSHA256 + ":" + sums.ID.String())
	in.count(workspace.Counts{Fetched: 1, BytesFetched: sums.Size})
	if known || pend {
		in.addSighting(it, sums, nil, ActDuplicate, "identical content already stored", workspace.Counts{})
		return
	}
	if !dry {
		res = in.sketchStored(ctx, it, sums)
		if ctx.Err() != nil {
			// Stopped before the text was sketched: leave the item to the
			// next run rather than record new content without its sketch
			// (it would never be sketched: the content is then known).
			return
		}
	}
	var content *workspace.Content
	if res.err == nil && len(res.c.Sketch) > 0 {
		res.c.Blob = sums.ID
		content = &res.c
	}
	in.addSighting(it, sums, content, ActNew, "", workspace.Counts{})
}

// sketchStored sketches the text of a blob just written to the store.
func (in *ingest) sketchStored(ctx context.Context, it *connectors.Item, sums dedupe.Sums) (out sketched) {
	if sums.Size > sketchMaxBytes {
		return sketched{err: textsketch.ErrTooLarge}
	}
	rc, err := in.e.Blobs.Open(ctx, sums.ID)
	if err != nil {
		return sketched{err: err}
	}
	defer rc.Close()
	defer func() {
		if v := recover(); v != nil { // a sketcher bug must not kill the process
			out = sketched{err: fmt.Errorf("text sketch: panic: %v", v)}
		}
	}()
	text := newTextCap()
	c, err := textsketch.Options{MaxBytes: sketchMaxBytes, SkipHash: true, NoDrain: true, Text: text}.Sketch(it.Name, rc, sums.Size)
	return sketched{workspace.Content{Kind: c.Kind, Tokens: c.Tokens, Sketch: c.Sketch, Text: text.String(), Modified: c.Modified, Revision: c.Revision}, err}
}

// textCap keeps the start of a content's extracted text for search
// (workspace.TextIndexBytes): memory is bounded whatever the document.
type textCap struct{ b []byte }

func newTextCap() *textCap { return &textCap{} }

func (t *textCap) Write(p []byte) (int, error) {
	if room := workspace.TextIndexBytes - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (t *textCap) String() string { return string(t.b) }

// addSighting records a sighting of stored content; extra is counted with
// it (a hash hit).
func (in *ingest) addSighting(it *connectors.Item, sums dedupe.Sums, content *workspace.Content, act Action, reason string, extra workspace.Counts) {
	dest := in.job.route(in.sc, it)
	s := workspace.Sighting{
		Source: in.sc.Name, Kind: it.Lineage.Kind, Ref: string(it.Ref), Fingerprint: it.Fingerprint,
		Blob: sums.ID, Name: it.Name, Path: it.Path, Size: sums.Size, Time: it.ModTime, Author: it.Author,
		Workspace: dest.Workspace, Folder: dest.Folder, Lineage: it.Lineage, RunID: in.runID,
	}
	ri := workspace.RunItem{Source: in.sc.Name, Ref: string(it.Ref), Name: it.Name, Size: sums.Size, Action: string(act), Reason: reason, Blob: sums.ID}
	d := extra
	if act == ActDuplicate {
		d.Duplicate, d.BytesSaved = 1, sums.Size
	} else {
		d.New, d.BytesNew = 1, sums.Size
	}
	in.mu.Lock()
	sh := in.shared
	sh.mu.Lock() // lock order: in.mu, then shared.mu
	_, pend := sh.pending[connectors.HashSHA256+":"+sums.ID.String()]
	if act == ActNew && pend {
		// Another fetch of this run stored the same content first.
		act, ri.Action, ri.Reason = ActDuplicate, string(ActDuplicate), "identical content already stored"
		d.New, d.BytesNew, d.Duplicate, d.BytesSaved = 0, 0, 1, sums.Size
	}
	switch {
	case act == ActNew:
		in.batch.Blobs = append(in.batch.Blobs, workspace.Blob{Sums: sums, Hashes: it.Hashes, Sketched: true, Fresh: true})
		sh.pending[connectors.HashSHA256+":"+sums.ID.String()] = sums
		sh.pending[connectors.HashQuickXor+":"+sums.QuickXor] = sums
		if content != nil {
			in.batch.Contents = append(in.batch.Contents, *content)
		}
	case pend || len(it.Hashes) > 0:
		// The blob's row, in case the source that stored it (another of
		// this run's) has not committed yet; and the extra names
		// (imap-part keys, md5...) for later runs.
		in.batch.Blobs = append(in.batch.Blobs, workspace.Blob{Sums: sums, Hashes: it.Hashes})
	}
	for k, v := range it.Hashes {
		sh.pending[k+":"+v] = sums
	}
	sh.mu.Unlock()
	in.batch.Sightings = append(in.batch.Sightings, s)
	in.batch.Items = append(in.batch.Items, ri)
	d = in.tally(d)
	n := len(in.batch.Sightings)
	in.mu.Unlock()
	in.notify(d)
	switch {
	case n >= 4*flushEvery:
		// The committer is behind: commit here, holding this fetch back.
		if err := in.flush(context.Background(), nil); err != nil {
			in.fail(err)
		}
	case n >= flushEvery:
		select {
		case in.kick <- struct{}{}:
		default: // already asked
		}
	}
}

// problem records a failed fetch of an item of epoch ep.
func (in *ingest) problem(ep *epoch, it *connectors.Item, err error) {
	in.itemProblem(ep, connectors.Problem{Ref: it.Ref, Name: it.Name, Err: err})
}
