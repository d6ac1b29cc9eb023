package imap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/imap/tnef"
)

// Open implements connectors.Source: it streams one part (or one file of a
// winmail.dat) on a pooled connection of its own, so it may run inside
// sink callbacks and concurrently with Scan.
func (s *Source) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("imap %s: open %s (%s): %w", s.name, it.Ref, it.Name, err)
	}
	info, _ := it.Private.(*openInfo)
	if info == nil {
		r, err := s.parseRef(it.Ref)
		if err != nil {
			return nil, fail(err)
		}
		info = &openInfo{ref: r}
	}
	if b := info.take(); b != nil {
		s.counters.parts.Add(1)
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	cn, err := s.acquire(ctx)
	if err != nil {
		return nil, fail(err)
	}
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	rc, err := s.openOn(cn, info)
	if err != nil {
		stop()
		cerr, _ := classify(cn.c, err)
		s.release(cn, connectors.IsRetryable(cerr))
		return nil, fail(cerr)
	}
	s.counters.parts.Add(1)
	return &openReader{ReadCloser: rc, what: fmt.Sprintf("imap %s: read %s (%s)", s.name, it.Ref, it.Name), cn: cn, done: func(broken bool) {
		stop()
		s.release(cn, broken)
	}}, nil
}

type openReader struct {
	io.ReadCloser
	what   string // names the item in errors
	cn     *conn
	done   func(broken bool)
	closed bool
}

func (o *openReader) Read(p []byte) (int, error) {
	n, err := o.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		cerr, _ := classify(o.cn.c, err)
		err = fmt.Errorf("%s: %w", o.what, cerr)
		if connectors.IsRetryable(cerr) {
			err = connectors.Retryable{Err: err}
		}
	}
	return n, err
}

func (o *openReader) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	err := o.ReadCloser.Close()
	o.done(err != nil)
	return err
}

// openOn selects the item's mailbox on cn and starts streaming its bytes.
func (s *Source) openOn(cn *conn, info *openInfo) (io.ReadCloser, error) {
	r := info.ref
	server, err := s.serverName(cn, info)
	if err != nil {
		return nil, err
	}
	if cn.selected != server {
		if _, err := cn.examine(server); err != nil {
			return nil, fmt.Errorf("examine %s: %w", r.Mailbox, err)
		}
	}
	if cn.validity != r.UIDValidity {
		return nil, fmt.Errorf("%w (now %d): %w", ErrUIDValidity, cn.validity, connectors.ErrNotFound)
	}
	enc := info.encoding
	if info.server == "" { // no scan state: learn the encoding from the structure
		if enc, err = partEncoding(cn, r.UID, r.Part); err != nil {
			return nil, err
		}
	}
	ps, err := fetchPart(cn, r.UID, r.Part, enc)
	if err != nil {
		return nil, fmt.Errorf("fetch uid %d part %s: %w", r.UID, partString(r.Part), err)
	}
	ps.count = func(n int64) { s.counters.bytes.Add(n) }
	if r.TNEF == 0 {
		return ps, nil
	}
	data, _, err := tnef.Open(ps, r.TNEF)
	if err != nil {
		ps.Close()
		return nil, fmt.Errorf("winmail.dat uid %d part %s file %d: %w", r.UID, partString(r.Part), r.TNEF, err)
	}
	return &tnefReader{Reader: data, ps: ps}, nil
}

type tnefReader struct {
	io.Reader
	ps *partStream
}

func (t *tnefReader) Close() error { return t.ps.Close() }

func (s *Source) serverName(cn *conn, info *openInfo) (string, error) {
	if info.server != "" {
		return info.server, nil
	}
	s.mu.Lock()
	name, ok := s.boxes[info.ref.Mailbox]
	s.mu.Unlock()
	if ok {
		return name, nil
	}
	if _, err := s.listMailboxes(cn); err != nil {
		return "", err
	}
	s.mu.Lock()
	name, ok = s.boxes[info.ref.Mailbox]
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%w: %q: %w", ErrUnknownMbox, info.ref.Mailbox, connectors.ErrNotFound)
	}
	return name, nil
}

// partEncoding fetches BODYSTRUCTURE and returns the transfer encoding of
// part (descending into message/rfc822 parts).
func partEncoding(cn *conn, uid uint32, part []int) (string, error) {
	msgs, err := cn.c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{
		UID: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	}).Collect()
	if err != nil {
		return "", fmt.Errorf("fetch uid %d structure: %w", uid, err)
	}
	if len(msgs) == 0 || msgs[0].BodyStructure == nil {
		return "", fmt.Errorf("uid %d: %w", uid, ErrNoPart)
	}
	var found *imap.BodyStructureSinglePart
	var walk func(bs imap.BodyStructure, path []int)
	walk = func(bs imap.BodyStructure, path []int) {
		bs.Walk(func(p []int, b imap.BodyStructure) bool {
			full := append(slices.Clone(path), p...)
			sp, ok := b.(*imap.BodyStructureSinglePart)
			if !ok {
				return true
			}
			if len(full) == 0 {
				full = []int{1}
			}
			if slices.Equal(full, part) {
				found = sp
			} else if sp.MessageRFC822 != nil && sp.MessageRFC822.BodyStructure != nil && len(full) < len(part) {
				inner := sp.MessageRFC822.BodyStructure
				if _, multi := inner.(*imap.BodyStructureMultiPart); !multi {
					full = append(full, 1)
					if slices.Equal(full, part) {
						found = inner.(*imap.BodyStructureSinglePart)
						return false
					}
				}
				walk(inner, full)
			}
			return false
		})
	}
	walk(msgs[0].BodyStructure, nil)
	if found == nil {
		return "", fmt.Errorf("uid %d part %s: %w", uid, partString(part), ErrNoPart)
	}
	return found.Encoding, nil
}
