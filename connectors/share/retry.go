package share

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/hash"
	"github.com/rclone/rclone/fs/walk"
	"github.com/syncd/syncd/connectors"
)

var (
	_ connectors.Retrier     = (*Source)(nil)
	_ connectors.Partitioner = (*Source)(nil)
)

// Retry implements connectors.Retrier. A file's Ref is its path: the file
// is looked up (one stat) and reported as a scan reports it. A Ref ending
// in "/" names a folder a scan could not list: it is listed again, and
// every file in it reported. A file or folder that is gone is a Problem
// wrapping connectors.ErrNotFound; a lost connection ends Retry with a
// Retryable error, the refs not reported yet staying on the engine's list.
func (s *Source) Retry(ctx context.Context, refs []connectors.Ref, sink connectors.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, ctx, err := s.fs(ctx)
	if err != nil {
		return err
	}
	hashes := s.hashTypes(f)
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return err
		}
		var perr error
		if strings.HasSuffix(string(r), "/") {
			perr = s.retryFolder(ctx, f, r, sink, hashes)
		} else {
			perr = s.retryFile(ctx, f, r, sink, hashes)
		}
		var p problem
		if !errors.As(perr, &p) {
			if perr != nil {
				return perr
			}
			continue
		}
		if connectors.IsRetryable(p.err) {
			return p.err
		}
		s.problems.Add(1)
		if err := sink.Problem(ctx, connectors.Problem{Ref: r, Name: string(r), Err: p.err}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// problem is an error about the asked ref itself (not the sink's).
type problem struct{ err error }

func (p problem) Error() string { return p.err.Error() }

func (s *Source) retryFile(ctx context.Context, f fs.Fs, r connectors.Ref, sink connectors.Sink, hashes []hash.Type) error {
	remote := remoteOf(r)
	o, err := f.NewObject(ctx, remote)
	if err != nil {
		if errors.Is(err, fs.ErrorIsDir) {
			err = fmt.Errorf("%w: %w", err, fs.ErrorObjectNotFound)
		}
		return problem{s.wrap("stat", string(r), err)}
	}
	it := s.item(ctx, o, o.Remote(), o.Size(), o.ModTime(ctx), hashes)
	s.countItem(it)
	return sink.Item(ctx, it)
}

func (s *Source) retryFolder(ctx context.Context, f fs.Fs, r connectors.Ref, sink connectors.Sink, hashes []hash.Type) error {
	dir := strings.TrimSuffix(remoteOf(r), "/")
	wctx, err := s.scanContext(ctx)
	if err != nil {
		return err
	}
	var sinkErr error
	werr := walk.Walk(wctx, f, dir, false, -1, func(d string, entries fs.DirEntries, err error) error {
		if err != nil {
			return err
		}
		for _, e := range entries {
			o, ok := e.(fs.Object)
			if !ok {
				continue
			}
			it := s.item(ctx, o, o.Remote(), o.Size(), o.ModTime(ctx), hashes)
			s.countItem(it)
			if err := sink.Item(ctx, it); err != nil {
				sinkErr = err
				return err
			}
		}
		return nil
	})
	if sinkErr != nil {
		return sinkErr
	}
	if werr != nil {
		return problem{s.wrap("list folder", string(r), werr)}
	}
	return nil
}

func (s *Source) countItem(it *connectors.Item) {
	s.listed.Add(1)
	if it.Skip != "" {
		s.skipped.Add(1)
	} else {
		s.emitted.Add(1)
	}
}
