package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/textsketch"
	"github.com/syncd/syncd/workspace"
)

// repairBatch bounds the blobs looked at per catalog query while repairing.
const repairBatch = 256

// repairDerived computes what a run that stopped early left out: the text
// sketch of every stored blob whose row was committed without it (by a
// source that recorded a duplicate of content another source of the run
// had not committed yet). A blob whose bytes are missing from the store is
// marked damaged, so its sources are asked for it again. It returns how
// many blobs it completed.
func (e *Engine) repairDerived(ctx context.Context) (int, error) {
	if _, dry := e.Blobs.(dedupe.HashOnly); dry {
		return 0, nil // a dry run reads no stored bytes
	}
	n := 0
	failed := map[dedupe.ID]bool{}
	for {
		list, err := e.Catalog.Unsketched(ctx, repairBatch+len(failed))
		if err != nil {
			return n, err
		}
		todo := list[:0]
		for _, u := range list {
			if !failed[u.ID] {
				todo = append(todo, u)
			}
		}
		if len(todo) == 0 {
			return n, nil
		}
		for _, u := range todo {
			if err := e.sketchBlob(ctx, u); err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				e.logger().Warn("could not compute a stored blob's text sketch", "blob", u.ID.String(), "err", err)
				failed[u.ID] = true
				continue
			}
			n++
		}
	}
}

// sketchBlob sketches one stored blob and records it.
func (e *Engine) sketchBlob(ctx context.Context, u workspace.Unsketched) error {
	rc, err := e.Blobs.Open(ctx, u.ID)
	if errors.Is(err, dedupe.ErrNotFound) {
		_, merr := e.Catalog.MarkDamaged(ctx, u.ID, "missing from the blob store")
		return errors.Join(err, merr)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	var c workspace.Content
	var serr error
	func() {
		defer func() {
			if v := recover(); v != nil { // a sketcher bug must not kill the process
				serr = fmt.Errorf("text sketch: panic: %v", v)
			}
		}()
		text := newTextCap()
		hc, err := textsketch.Options{MaxBytes: sketchMaxBytes, SkipHash: true, NoDrain: true, Text: text}.Sketch(u.Name, rc, u.Size)
		c, serr = workspace.Content{Blob: u.ID, Kind: hc.Kind, Tokens: hc.Tokens, Sketch: hc.Sketch, Text: text.String(), Modified: hc.Modified, Revision: hc.Revision}, err
	}()
	var ct *workspace.Content
	if serr == nil && len(c.Sketch) > 0 {
		ct = &c
	}
	// As at ingest: content without text (or too large, or unsupported)
	// has no sketch, and that is its derived data.
	return e.Catalog.SaveSketch(ctx, u.ID, ct)
}

// IndexText keeps the text of contents stored before text was kept for
// search (catalog migration 9): each is read from the blob store once,
// 200 at a time, in blob order, so an interrupted run resumes where the
// next one finds the first content still without text. A content whose
// blob cannot be read or whose text cannot be extracted is skipped and
// counted as failed (a damaged blob is verify's business). progress, if
// set, hears the running counts.
func (e *Engine) IndexText(ctx context.Context, progress func(done, failed int)) (done, failed int, err error) {
	after := ""
	for {
		batch, err := e.Catalog.Untexted(ctx, after, 200)
		if err != nil || len(batch) == 0 {
			return done, failed, err
		}
		for _, u := range batch {
			after = u.ID.String()
			text, err := e.blobText(ctx, u)
			if err != nil {
				if ctx.Err() != nil {
					return done, failed, ctx.Err()
				}
				failed++
				e.logger().Warn("text index: skipped", "blob", u.ID.Short(), "name", u.Name, "err", err)
				continue
			}
			if err := e.Catalog.SaveText(ctx, u.ID, text); err != nil {
				return done, failed, err
			}
			done++
		}
		if progress != nil {
			progress(done, failed)
		}
	}
}

func (e *Engine) blobText(ctx context.Context, u workspace.Unsketched) (text string, err error) {
	rc, err := e.Blobs.Open(ctx, u.ID)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	defer func() {
		if v := recover(); v != nil { // a sketcher bug must not kill the process
			err = fmt.Errorf("text extraction: panic: %v", v)
		}
	}()
	t := newTextCap()
	if _, err := (textsketch.Options{MaxBytes: sketchMaxBytes, SkipHash: true, NoDrain: true, Text: t}).Sketch(u.Name, rc, u.Size); err != nil {
		return "", err
	}
	return t.String(), nil
}
