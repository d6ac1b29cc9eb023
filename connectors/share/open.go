package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rclone/rclone/fs"
	"github.com/syncd/syncd/connectors"
)

// Open implements connectors.Source. It streams the file and checks that
// what it read is the item that was listed: a file that changed (size or
// modtime) before or while being read gives an error wrapping
// connectors.ErrChanged; one that vanished, connectors.ErrNotFound.
// At most `transfers` files are open at once; Open waits for a slot.
func (s *Source) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, ctx, err := s.fs(ctx)
	if err != nil {
		return nil, err
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rc, err := s.open(ctx, f, it)
	if err != nil {
		<-s.sem
		return nil, err
	}
	return rc, nil
}

func (s *Source) open(ctx context.Context, f fs.Fs, it *connectors.Item) (io.ReadCloser, error) {
	// The object listed by this source's scan saves a round trip; a change
	// since the listing is caught by the check at the end of the read.
	o, ok := it.Private.(fs.Object)
	if !ok || o.Fs() != f {
		var err error
		if o, err = f.NewObject(ctx, remoteOf(it.Ref)); err != nil {
			return nil, s.wrap("open", string(it.Ref), err)
		}
		if why := s.differs(f, it, o.Size(), o.ModTime(ctx)); why != "" {
			s.changedReads.Add(1)
			return nil, fmt.Errorf("share %s: open %q: %w since the scan (%s)", s.name, it.Ref, connectors.ErrChanged, why)
		}
	}
	rc, err := o.Open(ctx)
	if err != nil {
		return nil, s.wrap("open", string(it.Ref), err)
	}
	s.opened.Add(1)
	return &reader{s: s, f: f, ctx: ctx, it: it, rc: rc}, nil
}

// differs says how (size, modtime) differ from the item's, or "".
func (s *Source) differs(f fs.Fs, it *connectors.Item, size int64, mt time.Time) string {
	if it.Size >= 0 && size >= 0 && size != it.Size {
		return fmt.Sprintf("size %d, now %d", it.Size, size)
	}
	prec := f.Precision()
	if prec == fs.ModTimeNotSupported || it.ModTime.IsZero() {
		return ""
	}
	if d := mt.Sub(it.ModTime); d > prec || d < -prec {
		return fmt.Sprintf("modified %s, now %s", it.ModTime.UTC().Format(time.RFC3339Nano), mt.UTC().Format(time.RFC3339Nano))
	}
	return ""
}

// reader streams one file, counting bytes, and verifies at the end (or on
// a read error) that the file is still the one that was listed.
type reader struct {
	s    *Source
	f    fs.Fs
	ctx  context.Context
	it   *connectors.Item
	rc   io.ReadCloser
	n    int64
	err  error // sticky: io.EOF once verified, or the failure
	once sync.Once
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.rc.Read(p)
	r.n += int64(n)
	r.s.bytesRead.Add(int64(n))
	switch {
	case err == io.EOF:
		r.err = io.EOF
		if verr := r.verify(nil); verr != nil {
			r.err = verr
		}
	case err != nil:
		r.err = r.verify(err)
	case r.it.Size >= 0 && r.n > r.it.Size:
		r.err = r.verify(fmt.Errorf("read %d bytes, more than the listed size", r.n))
	}
	return n, r.err
}

// verify re-stats the file. A file that is gone or changed explains a
// short read or a read error; readErr (nil at EOF) is returned otherwise.
func (r *reader) verify(readErr error) error {
	ref := string(r.it.Ref)
	if cerr := r.ctx.Err(); cerr != nil {
		return cerr
	}
	o, err := r.f.NewObject(r.ctx, remoteOf(r.it.Ref))
	if kind(err) == connectors.ErrNotFound {
		return fmt.Errorf("share %s: read %q: vanished while being read: %w", r.s.name, ref, connectors.ErrNotFound)
	}
	if err == nil {
		why := r.s.differs(r.f, r.it, o.Size(), o.ModTime(r.ctx))
		if why == "" && readErr == nil && r.it.Size >= 0 && r.n != r.it.Size {
			why = fmt.Sprintf("read %d of %d bytes", r.n, r.it.Size)
		}
		if why != "" {
			r.s.changedReads.Add(1)
			return fmt.Errorf("share %s: read %q: %w (%s)", r.s.name, ref, connectors.ErrChanged, why)
		}
	}
	if readErr == nil && err != nil {
		return r.s.wrap("read (check)", ref, err)
	}
	if readErr != nil {
		return r.s.wrap("read", ref, readErr)
	}
	return nil
}

func (r *reader) Close() error {
	var err error
	r.once.Do(func() {
		err = r.rc.Close()
		<-r.s.sem
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return r.s.wrap("close", string(r.it.Ref), err)
	}
	return err
}
