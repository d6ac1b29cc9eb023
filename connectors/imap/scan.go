package imap

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/syncd/syncd/connectors"
)

// sinkError marks an error returned by the sink: it stops the scan as is.
type sinkError struct{ err error }

func (e sinkError) Error() string { return e.err.Error() }
func (e sinkError) Unwrap() error { return e.err }

// scanner is one scan worker: its connection and retry state. Workers
// share the sink and cursor through shared.
type scanner struct {
	s      *Source
	shared *scanState
	mu     sync.Mutex // guards cn against the cancel hook
	cn     *conn
	// degradedTo: fetch metadata one message at a time up to this UID,
	// after a batch that dropped the connection.
	degradedTo uint32
	drops      map[imap.UID]int // connection drops per batch's first UID
	// keep: the scanner ended cleanly; its connection may serve the next
	// Source of the account (see sessions).
	keep bool
}

// Scan implements connectors.Source. Mailboxes are scanned by up to
// connections/2 workers, each on its own connection; the rest of the
// connections serve Open. Sink calls are serialised.
func (s *Source) Scan(ctx context.Context, c connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	return s.scan(ctx, c, sink, nil)
}

// Parts implements connectors.Partitioner: the mailboxes the config
// selects, by display name.
func (s *Source) Parts(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, boxes, done, err := s.openScanner(ctx, &scanState{cur: cursor{Mailboxes: map[string]boxState{}}})
	if err != nil {
		return nil, err
	}
	defer done()
	names := make([]string, 0, len(boxes))
	for _, mb := range boxes {
		names = append(names, mb.Display)
	}
	sc.keep = true
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ScanPart implements connectors.Partitioner: Scan of one mailbox, whose
// cursor is the mailbox's state alone. A mailbox no longer listed is
// reported gone, as Scan does.
func (s *Source) ScanPart(ctx context.Context, part string, c connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	return s.scan(ctx, c, sink, &part)
}

// scan scans the mailboxes the config selects, or only the one named by
// only.
func (s *Source) scan(ctx context.Context, c connectors.Cursor, sink connectors.Sink, only *string) (connectors.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cur, err := parseCursor(c)
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", s.name, err)
	}
	if only != nil {
		maps.DeleteFunc(cur.Mailboxes, func(name string, _ boxState) bool { return name != *only })
	}
	shared := &scanState{sink: sink, cur: cur}
	first, boxes, done, err := s.openScanner(ctx, shared)
	if err != nil {
		return nil, err
	}
	defer done()
	if only != nil {
		boxes = slices.DeleteFunc(boxes, func(mb mailbox) bool { return mb.Display != *only })
	}
	if err := first.mailboxesGone(ctx, boxes); err != nil {
		return nil, err
	}
	if err := s.scanParallel(ctx, first, boxes); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first.keep = true
	return shared.bytes(), nil
}

func (s *Source) newScanner(shared *scanState) *scanner {
	return &scanner{s: s, shared: shared}
}

// openScanner starts a scanner on shared: its connection dialled (and
// closed if ctx ends) and the mailboxes the config selects listed. done
// ends it (see scanner.close).
func (s *Source) openScanner(ctx context.Context, shared *scanState) (sc *scanner, boxes []mailbox, done func(), err error) {
	sc = s.newScanner(shared)
	stop := context.AfterFunc(ctx, sc.abort)
	done = func() {
		stop()
		sc.close()
	}
	if err = sc.redial(ctx); err == nil {
		boxes, err = s.listMailboxes(sc.conn())
	}
	if err != nil {
		done()
		return nil, nil, nil, sc.fail(ctx, err)
	}
	return sc, boxes, done, nil
}

// scanParallel hands mailboxes to workers; the first error stops them all.
// The first worker starts alone; the others (each with a connection of
// its own to log in) join once the mailboxes scanned so far have a
// batch's worth of new messages (batch_size), so a re-scan of an
// unchanged account, or a small account's first scan, costs one login,
// not one per worker: on a server with many small accounts the logins
// were most of the work (1,000 accounts: 1,940 logins, about 53 of the
// 67 seconds).
func (s *Source) scanParallel(ctx context.Context, first *scanner, boxes []mailbox) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan mailbox, len(boxes))
	for _, mb := range boxes {
		queue <- mb
	}
	close(queue)
	var wg sync.WaitGroup
	work := func(sc *scanner) {
		defer wg.Done()
		if sc != first {
			defer sc.close()
			stop := context.AfterFunc(wctx, sc.abort)
			defer stop()
		}
		for mb := range queue {
			if err := sc.mailboxWithRetry(wctx, mb); err != nil {
				cancel(err)
				return
			}
		}
		sc.keep = wctx.Err() == nil
	}
	helpers := min(s.scanWorkers(), max(len(boxes), 1)) - 1
	var once sync.Once
	var found atomic.Int64
	first.shared.busy = func(n int) {
		if found.Add(int64(n)) < int64(s.cfg.BatchSize) {
			return // less than a batch so far: a login costs more than it saves
		}
		once.Do(func() {
			for range helpers {
				if len(queue) == 0 {
					return
				}
				wg.Add(1) // while the caller's worker is counted: Wait cannot have returned
				go work(s.newScanner(first.shared))
			}
		})
	}
	wg.Add(1)
	go work(first)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.Cause(wctx) // nil unless a worker failed
}

// scanWorkers is how many connections scan: half of them, at least one.
func (s *Source) scanWorkers() int { return max(1, s.cfg.Connections/2) }

// scanState is what scan workers share: the sink (called by one worker at
// a time) and the cursor.
type scanState struct {
	mu   sync.Mutex
	sink connectors.Sink
	cur  cursor
	busy func(n int) // set before the workers start: a worker found n new messages
}

func (st *scanState) item(ctx context.Context, it *connectors.Item) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sink.Item(ctx, it)
}

func (st *scanState) wants(ctx context.Context, w connectors.Wanter, it *connectors.Item) (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return w.Wants(ctx, it)
}

func (st *scanState) problem(ctx context.Context, p connectors.Problem) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sink.Problem(ctx, p)
}

func (st *scanState) gone(ctx context.Context, g connectors.Gone) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sink.Gone(ctx, g)
}

func (st *scanState) box(name string) boxState {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cur.Mailboxes[name]
}

// checkpoint records one mailbox's state and hands the whole cursor to
// the sink: every item reported so far is covered (a mailbox's state only
// moves past items already reported).
func (st *scanState) checkpoint(ctx context.Context, name string, b boxState) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cur.Mailboxes[name] = b
	return st.sink.Checkpoint(ctx, st.cur.bytes())
}

func (st *scanState) bytes() connectors.Cursor {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cur.bytes()
}

func (sc *scanner) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (sc *scanner) conn() *conn {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.cn
}

func (sc *scanner) abort() {
	if cn := sc.conn(); cn != nil {
		cn.c.Close()
	}
}

// close ends the scanner's connection: kept for the next Source of the
// account if the scanner ended cleanly (keep), else logged out.
func (sc *scanner) close() {
	cn := sc.conn()
	if cn == nil {
		return
	}
	select {
	case <-cn.c.Closed():
		return
	default:
	}
	if sc.keep {
		sessions.put(cn)
		return
	}
	logout(cn)
}

func (sc *scanner) redial(ctx context.Context) error {
	if old := sc.conn(); old != nil {
		old.c.Close()
	}
	cn, err := sc.s.dial(ctx)
	if err != nil {
		return err
	}
	sc.mu.Lock()
	sc.cn = cn
	sc.mu.Unlock()
	if ctx.Err() != nil { // cancelled while dialling: the hook may have missed cn
		cn.c.Close()
		return ctx.Err()
	}
	return nil
}

// mailboxWithRetry scans one mailbox, reconnecting after drops and
// throttling; it resumes at the last checkpointed UID.
func (sc *scanner) mailboxWithRetry(ctx context.Context, mb mailbox) error {
	s := sc.s
	sc.degradedTo, sc.drops = 0, map[imap.UID]int{}
	for attempt := 0; ; attempt++ {
		var err error
		if sc.conn() == nil {
			err = sc.redial(ctx)
		}
		if err == nil {
			err = sc.mailbox(ctx, mb)
		}
		if err == nil || ctx.Err() != nil {
			return sc.fail(ctx, err)
		}
		var se sinkError
		if errors.As(err, &se) {
			return se.err
		}
		if !connectors.IsRetryable(err) || attempt >= s.cfg.Retries {
			s.counters.problems.Add(1)
			p := connectors.Problem{Name: fmt.Sprintf("%s mailbox %s", s.cfg.Account, mb.Display), Err: err}
			if perr := sc.shared.problem(ctx, p); perr != nil {
				return perr
			}
			if connectors.IsRetryable(err) {
				return err // the account is unreachable: stop, keep the cursor
			}
			return nil
		}
		wait := backoff(attempt, err)
		s.log.Warn("imap: reconnecting", "mailbox", mb.Display, "attempt", attempt+1, "wait", wait, "err", err)
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
		s.counters.reconnects.Add(1)
		if err := sc.redial(ctx); err != nil && !connectors.IsRetryable(err) {
			return err
		}
	}
}

// throttleWait carries the server's suggested wait inside a Retryable error.
type throttleWait struct {
	err  error
	wait time.Duration
}

func (t throttleWait) Error() string { return t.err.Error() }
func (t throttleWait) Unwrap() error { return t.err }

func backoff(attempt int, err error) time.Duration {
	var tw throttleWait
	if errors.As(err, &tw) && tw.wait > 0 {
		return tw.wait
	}
	d := time.Duration(1<<min(attempt, 6)) * 250 * time.Millisecond
	return min(d, 30*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// check classifies a command error, counting throttles.
func (sc *scanner) check(err error) error {
	if err == nil {
		return nil
	}
	cerr, wait := classify(sc.conn().c, err)
	if errors.Is(cerr, ErrThrottled) {
		sc.s.counters.throttled.Add(1)
	}
	if wait > 0 {
		return connectors.Retryable{Err: throttleWait{err: cerr, wait: wait}}
	}
	return cerr
}

// mailbox scans one mailbox from its cursor state: messages above the
// last UID seen are new; messages of the last scan's UID set that the
// server no longer lists were expunged (reported gone). Only a mailbox
// whose UIDNEXT or message count moved is searched: with neither moved,
// nothing can have been added or expunged.
func (sc *scanner) mailbox(ctx context.Context, mb mailbox) error {
	st := sc.shared.box(mb.Display)
	if ls := mb.Status; ls != nil && st.UIDValidity != 0 && ls.UIDValidity == st.UIDValidity &&
		ls.UIDNext > 0 && uint32(ls.UIDNext) <= st.LastUID+1 &&
		st.Tracked && ls.NumMessages != nil && *ls.NumMessages == st.Messages {
		// LIST-STATUS says nothing arrived or left since the last scan.
		if ls.HighestModSeq != 0 {
			st.HighestModSeq = ls.HighestModSeq
		}
		return sc.checkpoint(ctx, mb, st)
	}
	cn := sc.conn()
	sc.s.counters.examines.Add(1)
	var (
		sel      *imap.SelectData
		uids     []imap.UID
		searched bool
		err      error
	)
	if mb.Status != nil {
		// LIST-STATUS says the mailbox changed: it will be searched, in
		// the EXAMINE's round trip.
		sel, uids, err = sc.examineAndSearch(cn, mb)
		searched = true
	} else if sel, err = cn.examine(mb.Server); err != nil {
		err = fmt.Errorf("imap %s: examine %s: %w", sc.s.name, mb.Display, sc.check(err))
	}
	if err != nil {
		return err
	}
	if st.UIDValidity != sel.UIDValidity {
		if st.UIDValidity != 0 {
			sc.s.log.Info("imap: UIDVALIDITY changed, rescanning", "mailbox", mb.Display,
				"old", st.UIDValidity, "new", sel.UIDValidity)
			if err := sc.gone(ctx, sc.s.boxRef(mb.Display, st.UIDValidity), mb.Display+" (UIDVALIDITY "+strconv.FormatUint(uint64(st.UIDValidity), 10)+")", "uidvalidity"); err != nil {
				return err
			}
		}
		st = boxState{UIDValidity: sel.UIDValidity}
	}
	moved := sel.UIDNext == 0 || uint32(sel.UIDNext) > st.LastUID+1 || !st.Tracked || sel.NumMessages != st.Messages
	if moved {
		if !searched && sel.NumMessages > 0 {
			if uids, err = sc.allUIDs(cn); err != nil {
				return fmt.Errorf("imap %s: search %s: %w", sc.s.name, mb.Display, err)
			}
		}
		if err := sc.expunged(ctx, mb, st, uids); err != nil {
			return err
		}
		st.Tracked, st.Messages, st.Present = true, sel.NumMessages, imap.UIDSetNum(uids...).String()
		if err := sc.newMessages(ctx, mb, &st, uids); err != nil {
			return err
		}
	}
	if sel.UIDNext > 0 {
		st.LastUID = max(st.LastUID, uint32(sel.UIDNext)-1)
	}
	st.HighestModSeq = sel.HighestModSeq
	return sc.checkpoint(ctx, mb, st)
}

// mailboxesGone reports gone every message of the mailboxes of the last
// scan that are no longer listed (deleted, renamed, or no longer selected
// by the config), and forgets them.
func (sc *scanner) mailboxesGone(ctx context.Context, boxes []mailbox) error {
	listed := map[string]bool{}
	for _, mb := range boxes {
		listed[mb.Display] = true
	}
	cur := &sc.shared.cur
	var names []string
	for name := range cur.Mailboxes {
		if !listed[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		st := cur.Mailboxes[name]
		if st.UIDValidity != 0 {
			if err := sc.gone(ctx, sc.s.boxRef(name, st.UIDValidity), sc.s.cfg.Account+" "+name, "mailbox-gone"); err != nil {
				return err
			}
		}
		delete(cur.Mailboxes, name)
	}
	return nil
}

// newMessages reports the messages of uids above st.LastUID, in batches,
// moving st.LastUID past each batch with a checkpoint.
func (sc *scanner) newMessages(ctx context.Context, mb mailbox, st *boxState, all []imap.UID) error {
	i, _ := slices.BinarySearch(all, imap.UID(st.LastUID+1))
	uids := all[i:]
	if len(uids) > 0 && sc.shared.busy != nil {
		sc.shared.busy(len(uids)) // there is work: the other scan workers may join
	}
	for len(uids) > 0 {
		size := sc.s.cfg.BatchSize
		if uint32(uids[0]) <= sc.degradedTo {
			size = 1
		}
		batch := uids[:min(size, len(uids))]
		uids = uids[len(batch):]
		if err := sc.batch(ctx, mb, st.UIDValidity, batch); err != nil {
			if !errors.Is(err, ErrDropped) || ctx.Err() != nil {
				return err
			}
			sc.drops[batch[0]]++
			if len(batch) > 1 || sc.drops[batch[0]] < 2 {
				// Find the message that breaks the connection: retry this
				// range one message at a time.
				sc.degradedTo = max(sc.degradedTo, uint32(batch[len(batch)-1]))
				return err
			}
			if err := sc.poison(ctx, mb, st.UIDValidity, batch[0], err); err != nil {
				return err
			}
		}
		st.LastUID = uint32(batch[len(batch)-1])
		if err := sc.checkpoint(ctx, mb, *st); err != nil {
			return err
		}
	}
	return nil
}

// expunged reports gone every message of the last scan (up to its last
// UID) that the server no longer lists.
func (sc *scanner) expunged(ctx context.Context, mb mailbox, st boxState, now []imap.UID) error {
	if !st.Tracked || st.Present == "" {
		return nil
	}
	was, err := parseUIDSet(st.Present)
	if err != nil {
		sc.s.log.Warn("imap: cursor's UID set unreadable, deletions not checked this time", "mailbox", mb.Display, "err", err)
		return nil
	}
	nums, _ := was.Nums() // bounded: the cursor's set has no "*"
	for _, u := range nums {
		if uint32(u) > st.LastUID {
			break
		}
		if _, found := slices.BinarySearch(now, u); found {
			continue
		}
		name := fmt.Sprintf("%s %s uid %d", sc.s.cfg.Account, mb.Display, u)
		if err := sc.gone(ctx, sc.s.messageRef(mb.Display, st.UIDValidity, uint32(u)), name, "expunged"); err != nil {
			return err
		}
	}
	return nil
}

func (sc *scanner) gone(ctx context.Context, ref connectors.Ref, name, why string) error {
	sc.s.counters.gone.Add(1)
	if err := sc.shared.gone(ctx, connectors.Gone{Ref: ref, Under: true, Name: name, Why: why}); err != nil {
		return sinkError{err}
	}
	return nil
}

func (sc *scanner) checkpoint(ctx context.Context, mb mailbox, st boxState) error {
	if err := sc.shared.checkpoint(ctx, mb.Display, st); err != nil {
		return sinkError{err}
	}
	return nil
}

// allUIDs returns every UID in the selected mailbox, ascending: with
// ESEARCH as a compact set, not one number per message.
func (sc *scanner) allUIDs(cn *conn) ([]imap.UID, error) {
	return sc.uidsOf(sc.searchAll(cn))
}

func (sc *scanner) searchAll(cn *conn) *imapclient.SearchCommand {
	var opts *imap.SearchOptions
	if caps := cn.c.Caps(); caps.Has(imap.CapESearch) || caps.Has(imap.CapIMAP4rev2) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	return cn.c.UIDSearch(&imap.SearchCriteria{}, opts)
}

func (sc *scanner) uidsOf(cmd *imapclient.SearchCommand) ([]imap.UID, error) {
	data, err := cmd.Wait()
	if err != nil {
		return nil, sc.check(err)
	}
	out := data.AllUIDs()
	slices.Sort(out)
	return slices.Compact(out), nil
}

// examineAndSearch sends EXAMINE and UID SEARCH ALL together (one round
// trip; the server runs the search in the mailbox the EXAMINE selects).
func (sc *scanner) examineAndSearch(cn *conn, mb mailbox) (*imap.SelectData, []imap.UID, error) {
	selCmd := cn.startExamine(mb.Server)
	search := sc.searchAll(cn)
	sel, err := cn.examined(mb.Server, selCmd)
	uids, serr := sc.uidsOf(search)
	if err != nil {
		return nil, nil, fmt.Errorf("imap %s: examine %s: %w", sc.s.name, mb.Display, sc.check(err))
	}
	if serr != nil {
		return nil, nil, fmt.Errorf("imap %s: search %s: %w", sc.s.name, mb.Display, serr)
	}
	return sel, uids, nil
}

var headerFields = []string{"Message-ID", "In-Reply-To", "References", "Date"}

func metaOptions() *imap.FetchOptions {
	return &imap.FetchOptions{
		UID: true, Envelope: true, InternalDate: true, RFC822Size: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{{
			Specifier: imap.PartSpecifierHeader, HeaderFields: headerFields, Peek: true,
		}},
	}
}

// batch fetches the metadata of uids and reports their parts. When the
// batch FETCH fails for a reason other than the connection, each message is
// fetched alone so that one bad message is reported and the rest go on.
func (sc *scanner) batch(ctx context.Context, mb mailbox, validity uint32, uids []imap.UID) error {
	cn := sc.conn()
	msgs, err := collectMeta(cn.c.Fetch(imap.UIDSetNum(uids...), metaOptions()))
	if err != nil {
		if cerr := sc.check(err); connectors.IsRetryable(cerr) || ctx.Err() != nil {
			return fmt.Errorf("imap %s: fetch %s uids %d-%d: %w", sc.s.name, mb.Display, uids[0], uids[len(uids)-1], cerr)
		}
		msgs = nil
		for _, u := range uids {
			m, err := collectMeta(cn.c.Fetch(imap.UIDSetNum(u), metaOptions()))
			if cerr := sc.check(err); connectors.IsRetryable(cerr) {
				return fmt.Errorf("imap %s: fetch %s uid %d: %w", sc.s.name, mb.Display, u, cerr)
			}
			if err != nil || len(m) == 0 {
				if err := sc.problem(ctx, mb, validity, uint32(u), fmt.Errorf("fetch metadata: %w", errOr(err, ErrNoPart))); err != nil {
					return err
				}
				continue
			}
			msgs = append(msgs, m...)
		}
	}
	slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	msgs, blind := withStructure(msgs)
	for _, u := range blind {
		// Never passed over in silence: the cursor moves past this UID.
		if err := sc.problem(ctx, mb, validity, uint32(u), errNoStructure); err != nil {
			return err
		}
	}
	// Encoded parts keep Size -1: Dovecot 2.3's BINARY.SIZE was measured
	// to disagree with the BINARY bytes it then sends (3915 vs 4004).
	plans := sc.plan(mb, validity, msgs)
	if err := sc.fixNames(cn, plans); err != nil {
		return err
	}
	var pp *pendingParts
	if len(uids) > 1 || uint32(uids[0]) > sc.degradedTo {
		// (Not while finding the message that drops the connection:
		// its parts go through Open, which reports them one by one.)
		if pp, err = sc.startPrefetch(ctx, cn, mb, validity, plans); err != nil {
			return err
		}
	}
	err = sc.resolveEmbedded(cn, plans) // in the prefetch's round trip
	if perr := pp.wait(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	for _, mp := range plans {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sc.emit(ctx, mb, validity, mp); err != nil {
			return err
		}
	}
	return nil
}

// errNoStructure is a message the server described without its MIME
// structure: its parts cannot be planned.
var errNoStructure = errors.New("the server sent no BODYSTRUCTURE for this message")

// withStructure splits fetched messages into those with a BODYSTRUCTURE
// and the UIDs of those without one.
func withStructure(msgs []*imapclient.FetchMessageBuffer) (ok []*imapclient.FetchMessageBuffer, blind []imap.UID) {
	ok = msgs[:0:0]
	for _, m := range msgs {
		if m.BodyStructure == nil {
			blind = append(blind, m.UID)
			continue
		}
		ok = append(ok, m)
	}
	return ok, blind
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

func (sc *scanner) problem(ctx context.Context, mb mailbox, validity, uid uint32, err error) error {
	sc.s.counters.problems.Add(1)
	p := connectors.Problem{
		Ref:  connectors.Ref(fmt.Sprintf("%s/%s/%d/%d", sc.s.cfg.Account, mb.Display, validity, uid)),
		Name: fmt.Sprintf("%s %s uid %d", sc.s.cfg.Account, mb.Display, uid),
		Err:  err,
	}
	if err := sc.shared.problem(ctx, p); err != nil {
		return sinkError{err}
	}
	return nil
}

// poison reports a message whose metadata fetch drops the connection (the
// server cannot serve it), reconnects and reopens the mailbox.
func (sc *scanner) poison(ctx context.Context, mb mailbox, validity uint32, uid imap.UID, cause error) error {
	if err := sc.problem(ctx, mb, validity, uint32(uid), fmt.Errorf("server dropped the connection on this message: %w", cause)); err != nil {
		return err
	}
	sc.s.counters.reconnects.Add(1)
	if err := sc.redial(ctx); err != nil {
		return err
	}
	sel, err := sc.conn().examine(mb.Server)
	if err != nil {
		return fmt.Errorf("imap %s: examine %s: %w", sc.s.name, mb.Display, sc.check(err))
	}
	if sel.UIDValidity != validity {
		return connectors.Retryable{Err: fmt.Errorf("imap %s: %s: %w", sc.s.name, mb.Display, ErrUIDValidity)}
	}
	return nil
}
