package imap

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"

	"github.com/syncd/syncd/connectors"
)

var (
	_ connectors.Retrier     = (*Source)(nil)
	_ connectors.Partitioner = (*Source)(nil)
)

// Retry implements connectors.Retrier. Refs name parts
// ("account/mailbox/uidvalidity/uid/part[#n]") or, for problems the scan
// reported about a whole message, messages ("account/mailbox/uidvalidity/uid").
// The messages' BODYSTRUCTUREs are fetched again and planned as a scan
// plans them, so every part of an asked message is reported exactly as a
// scan reports it; an asked ref that is not among them gets a Problem:
// ErrNotFound when the mailbox, its UIDVALIDITY or the UID is gone.
func (s *Source) Retry(ctx context.Context, refs []connectors.Ref, sink connectors.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	rs := &retrySink{inner: sink, emitted: map[connectors.Ref]bool{}, msgs: map[string]bool{}, problems: map[string]error{}}
	// The listing maps display names to the server's (serverName).
	sc, _, done, err := s.openScanner(ctx, &scanState{sink: rs, cur: cursor{Mailboxes: map[string]boxState{}}})
	if err != nil {
		return err
	}
	defer done()
	groups, bad := s.groupRefs(refs)
	for _, r := range bad {
		if err := sc.refProblem(ctx, r, fmt.Sprintf("%s %s", s.cfg.Account, r), fmt.Errorf("%w: %w", ErrBadRef, connectors.ErrNotFound)); err != nil {
			return err
		}
	}
	for _, g := range groups {
		if err := sc.retryGroup(ctx, rs, g); err != nil {
			return sc.fail(ctx, err)
		}
	}
	sc.keep = ctx.Err() == nil
	return ctx.Err()
}

// retryGroup is the asked refs of one mailbox and UIDVALIDITY.
type retryGroup struct {
	mb       mailbox
	known    bool // the mailbox exists on the server
	validity uint32
	uids     []imap.UID
	asked    map[uint32][]askedRef
	// progress across reconnections
	todo     []imap.UID
	degraded bool
	drops    map[imap.UID]int
}

type askedRef struct {
	ref     connectors.Ref
	message bool // names the whole message
}

// groupRefs sorts refs into mailbox groups (in a stable order); refs that
// are not of this source come back in bad.
func (s *Source) groupRefs(refs []connectors.Ref) ([]*retryGroup, []connectors.Ref) {
	s.mu.Lock()
	boxes := maps.Clone(s.boxes)
	s.mu.Unlock()
	byKey := map[string]*retryGroup{}
	var bad []connectors.Ref
	for _, r := range refs {
		box, validity, uid, msg, ok := s.resolveRef(r, boxes)
		if !ok {
			bad = append(bad, r)
			continue
		}
		key := box + "\x00" + strconv.FormatUint(uint64(validity), 10)
		g := byKey[key]
		if g == nil {
			server, known := boxes[box]
			g = &retryGroup{mb: mailbox{Server: server, Display: box}, known: known, validity: validity, asked: map[uint32][]askedRef{}}
			byKey[key] = g
		}
		if _, seen := g.asked[uid]; !seen {
			g.uids = append(g.uids, imap.UID(uid))
		}
		g.asked[uid] = append(g.asked[uid], askedRef{ref: r, message: msg})
	}
	out := make([]*retryGroup, 0, len(byKey))
	for _, g := range byKey {
		slices.Sort(g.uids)
		g.todo, g.drops = g.uids, map[imap.UID]int{}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *retryGroup) int {
		if c := strings.Compare(a.mb.Display, b.mb.Display); c != 0 {
			return c
		}
		return int(a.validity) - int(b.validity)
	})
	return out, bad
}

// resolveRef reads a part ref or a message ref. Mailbox names may hold
// "/", so "a/5/7/3" is either part 3 of uid 7 in mailbox "a" or message 3
// of mailbox "a/5": the reading whose mailbox exists wins, a part first.
func (s *Source) resolveRef(r connectors.Ref, boxes map[string]string) (box string, validity, uid uint32, msg, ok bool) {
	part, perr := s.parseRef(r)
	rest, hasAcct := strings.CutPrefix(string(r), s.cfg.Account+"/")
	var mBox string
	var mV, mU uint64
	mok := false
	if hasAcct {
		f := strings.Split(rest, "/")
		if n := len(f); n >= 3 {
			var err1, err2 error
			mV, err1 = strconv.ParseUint(f[n-2], 10, 32)
			mU, err2 = strconv.ParseUint(f[n-1], 10, 32)
			mBox = strings.Join(f[:n-2], "/")
			mok = err1 == nil && err2 == nil && mBox != ""
		}
	}
	_, partKnown := boxes[part.Mailbox]
	_, msgKnown := boxes[mBox]
	switch {
	case perr == nil && (partKnown || !mok || !msgKnown):
		return part.Mailbox, part.UIDValidity, part.UID, false, part.Mailbox != ""
	case mok:
		return mBox, uint32(mV), uint32(mU), true, true
	}
	return "", 0, 0, false, false
}

// retryGroup reports the asked messages of one mailbox, reconnecting after
// drops as a scan does; it returns an error only when the account cannot
// be reached.
func (sc *scanner) retryGroup(ctx context.Context, rs *retrySink, g *retryGroup) error {
	s := sc.s
	if !g.known {
		return sc.askedProblems(ctx, rs, g, g.uids, fmt.Errorf("%w: %q: %w", ErrUnknownMbox, g.mb.Display, connectors.ErrNotFound))
	}
	for attempt := 0; ; attempt++ {
		var err error
		if sc.conn() == nil {
			err = sc.redial(ctx)
		}
		if err == nil {
			err = sc.retryMessages(ctx, rs, g)
		}
		if err == nil || ctx.Err() != nil {
			return sc.fail(ctx, err)
		}
		var se sinkError
		if errors.As(err, &se) {
			return se.err
		}
		if !connectors.IsRetryable(err) {
			return sc.askedProblems(ctx, rs, g, g.uids, err)
		}
		if attempt >= s.cfg.Retries {
			return err
		}
		wait := backoff(attempt, err)
		s.log.Warn("imap: reconnecting", "mailbox", g.mb.Display, "attempt", attempt+1, "wait", wait, "err", err)
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
		s.counters.reconnects.Add(1)
		if err := sc.redial(ctx); err != nil && !connectors.IsRetryable(err) {
			return err
		}
	}
}

func (sc *scanner) retryMessages(ctx context.Context, rs *retrySink, g *retryGroup) error {
	s := sc.s
	s.counters.examines.Add(1)
	sel, err := sc.conn().examine(g.mb.Server)
	if err != nil {
		return fmt.Errorf("imap %s: examine %s: %w", s.name, g.mb.Display, sc.check(err))
	}
	if sel.UIDValidity != g.validity {
		return sc.askedProblems(ctx, rs, g, g.uids, fmt.Errorf("%w (now %d): %w", ErrUIDValidity, sel.UIDValidity, connectors.ErrNotFound))
	}
	for len(g.todo) > 0 {
		size := s.cfg.BatchSize
		if g.degraded {
			size = 1
		}
		batch := g.todo[:min(size, len(g.todo))]
		rs.reset()
		if err := sc.batch(ctx, g.mb, g.validity, batch); err != nil {
			if !errors.Is(err, ErrDropped) || ctx.Err() != nil {
				return err
			}
			// As a scan does: find the message that breaks the
			// connection, one message at a time, and report it.
			g.drops[batch[0]]++
			if len(batch) > 1 || g.drops[batch[0]] < 2 {
				g.degraded = true
				return err
			}
			if err := sc.poison(ctx, g.mb, g.validity, batch[0], err); err != nil {
				return err
			}
		}
		if err := sc.askedProblems(ctx, rs, g, batch, nil); err != nil {
			return err
		}
		g.todo = g.todo[len(batch):]
	}
	return nil
}

// askedProblems reports every asked ref of uids that was not reported
// again: with err when set, else with what the scan code said about its
// message, else as not found (the UID was expunged, or the part is gone).
func (sc *scanner) askedProblems(ctx context.Context, rs *retrySink, g *retryGroup, uids []imap.UID, err error) error {
	s := sc.s
	for _, u := range uids {
		msgRef := fmt.Sprintf("%s/%s/%d/%d", s.cfg.Account, g.mb.Display, g.validity, u)
		name := fmt.Sprintf("%s %s uid %d", s.cfg.Account, g.mb.Display, u)
		for _, a := range g.asked[uint32(u)] {
			perr := err
			if perr == nil {
				if rs.emitted[a.ref] || (a.message && rs.msgs[msgRef]) {
					continue
				}
				perr = rs.problems[msgRef]
				if perr == nil {
					perr = fmt.Errorf("uid %d: %w", u, ErrNoPart)
				}
			}
			if err := sc.refProblem(ctx, a.ref, name, perr); err != nil {
				return err
			}
		}
	}
	return nil
}

func (sc *scanner) refProblem(ctx context.Context, r connectors.Ref, name string, err error) error {
	sc.s.counters.problems.Add(1)
	if err := sc.shared.scanSinkProblem(ctx, connectors.Problem{Ref: r, Name: name, Err: err}); err != nil {
		return sinkError{err}
	}
	return nil
}

// scanSinkProblem hands p to the caller's sink, past a retrySink's capture.
func (st *scanState) scanSinkProblem(ctx context.Context, p connectors.Problem) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if rs, ok := st.sink.(*retrySink); ok {
		return rs.inner.Problem(ctx, p)
	}
	return st.sink.Problem(ctx, p)
}

// retrySink passes items on, noting their refs and messages, and keeps the
// scan code's per-message problems to report them under the asked refs.
type retrySink struct {
	inner    connectors.Sink
	mu       sync.Mutex
	emitted  map[connectors.Ref]bool
	msgs     map[string]bool  // "account/mailbox/validity/uid" of every item passed on
	problems map[string]error // by the scan code's ref (a message)
}

func (r *retrySink) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.problems)
}

func (r *retrySink) Item(ctx context.Context, it *connectors.Item) error {
	r.mu.Lock()
	r.emitted[it.Ref] = true
	if i := strings.LastIndexByte(string(it.Ref), '/'); i > 0 {
		r.msgs[string(it.Ref[:i])] = true
	}
	r.mu.Unlock()
	return r.inner.Item(ctx, it)
}

func (r *retrySink) Problem(_ context.Context, p connectors.Problem) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev := r.problems[string(p.Ref)]; prev != nil {
		p.Err = fmt.Errorf("%w; %w", prev, p.Err)
	}
	r.problems[string(p.Ref)] = p.Err
	return nil
}

func (r *retrySink) Checkpoint(context.Context, connectors.Cursor) error { return nil }

func (r *retrySink) Gone(ctx context.Context, g connectors.Gone) error { return r.inner.Gone(ctx, g) }
