package imap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/syncd/syncd/connectors"
)

// Small parts travel with their batch (issue 21). Opening a part costs a
// round trip (and, on an Open connection, a login and an EXAMINE): for
// the everyday 10-40 KiB attachment across a WAN that is most of its
// time. So the scanner fetches the wanted small parts of a batch of
// messages itself, one UID FETCH per distinct set of part numbers, the
// commands pipelined, and hands each part's bytes over with its item;
// Open then needs no round trip. Parts over batchPartMax, winmail.dat
// containers, and whatever the sink does not want go through Open as
// before. Memory: at most batchBudget bytes of parts a batch, held until
// the sink opens them.
const (
	batchPartMax = 256 << 10 // encoded bytes of a part fetched with its batch
	batchBudget  = 4 << 20   // encoded bytes of parts fetched with one batch
)

// partGroup is one prefetch command: the same part numbers of several
// messages.
type partGroup struct {
	parts [][]int
	uids  []imap.UID
	// got: each message's parts, by UID then part number ("2.1"); raw:
	// as sent (BODY), else decoded by the server (BINARY). err: the
	// server refused the command.
	got map[imap.UID]map[string][]byte
	raw bool
	err error
}

// pendingParts is a prefetch under way: its commands sent, their answers
// being read.
type pendingParts struct {
	ctx      context.Context
	sc       *scanner
	cn       *conn
	mb       mailbox
	validity uint32
	budget   int64 // encoded bytes left to fetch with this batch
	plans    []*msgPlan
	groups   []*partGroup
	done     chan error
}

// startPrefetch sends the commands fetching the wanted small parts of
// plans on cn and reads their answers in the background, so that other
// commands (the HTML of multipart/related groups) share their round trip.
// Images that may be embedded (a Content-ID) are left for wait: whether
// they are is not known yet. wait ends it.
func (sc *scanner) startPrefetch(ctx context.Context, cn *conn, mb mailbox, validity uint32, plans []*msgPlan) (*pendingParts, error) {
	pp := &pendingParts{ctx: ctx, sc: sc, cn: cn, mb: mb, validity: validity, budget: batchBudget, plans: plans, done: make(chan error, 1)}
	groups, err := pp.partGroups(false)
	if err != nil {
		return nil, err
	}
	pp.groups = groups
	read := sc.sendGroups(cn, groups, cn.binary)
	go func() { pp.done <- read() }()
	return pp, nil
}

// wait keeps the fetched bytes in the plans (partPlan.data). A command
// the server refused (BINARY it cannot decode) is sent again as BODY,
// decoded here; a part that still fails is left to Open. An error that
// broke the connection is returned.
func (pp *pendingParts) wait() error {
	if pp == nil {
		return nil
	}
	sc, cn, groups := pp.sc, pp.cn, pp.groups
	if err := <-pp.done; err != nil {
		return err
	}
	// The images with a Content-ID that turned out to be attachments (not
	// shown by the HTML): rare, so a round trip only when there are some.
	cids, err := pp.partGroups(true)
	if err != nil {
		return err
	}
	if len(cids) > 0 {
		if err := sc.sendGroups(cn, cids, cn.binary)(); err != nil {
			return err
		}
		groups = append(groups, cids...)
	}
	if cn.binary {
		// A server that cannot decode one message's part refuses BINARY
		// for the whole command ([UNKNOWN-CTE]).
		again := slices.DeleteFunc(slices.Clone(groups), func(g *partGroup) bool { return g.err == nil })
		if len(again) > 0 {
			if err := sc.sendGroups(cn, again, false)(); err != nil {
				return err
			}
		}
	}
	for _, mp := range pp.plans {
		for i := range mp.parts {
			p := &mp.parts[i]
			for _, g := range groups {
				b, ok := g.got[imap.UID(mp.meta.UID)][partString(p.Path)]
				if ok && g.raw {
					b, ok = decodePart(b, p.Encoding)
				}
				if ok {
					p.data = b
				}
			}
		}
	}
	return nil
}

// partGroups picks the parts to prefetch (images with a Content-ID, or
// the others) and groups their messages by the part numbers wanted.
func (pp *pendingParts) partGroups(cid bool) ([]*partGroup, error) {
	sc := pp.sc
	wanter, _ := sc.shared.sink.(connectors.Wanter)
	byKey := map[string]*partGroup{}
	var out []*partGroup
	for _, mp := range pp.plans {
		var paths [][]int
		for i := range mp.parts {
			p := &mp.parts[i]
			if p.Skip != "" || p.TNEF || (p.CID != "") != cid || p.EncSize < 0 || p.EncSize > batchPartMax || p.EncSize > pp.budget {
				continue
			}
			if wanter != nil {
				ok, err := sc.shared.wants(pp.ctx, wanter, sc.s.item(pp.mb, pp.validity, mp, p, 0))
				if err != nil {
					return nil, sinkError{err}
				}
				if !ok {
					continue
				}
			}
			pp.budget -= p.EncSize
			paths = append(paths, p.Path)
		}
		if len(paths) == 0 {
			continue
		}
		keys := make([]string, len(paths))
		for i, p := range paths {
			keys[i] = partString(p)
		}
		key := strings.Join(keys, " ")
		g := byKey[key]
		if g == nil {
			g = &partGroup{parts: paths}
			byKey[key] = g
			out = append(out, g)
		}
		g.uids = append(g.uids, imap.UID(mp.meta.UID))
	}
	return out, nil
}

// sendGroups sends one UID FETCH per group, all before reading any
// answer (one round trip for the lot), and returns the function that
// reads them: each group's answer in a goroutine of its own, so that no
// answer waits behind another's reader. A group the server refuses keeps
// the refusal (partGroup.err); an error that broke the connection is
// returned.
func (sc *scanner) sendGroups(cn *conn, groups []*partGroup, binary bool) func() error {
	cmds := make([]*imapclient.FetchCommand, len(groups))
	for i, g := range groups {
		opts := &imap.FetchOptions{UID: true}
		for _, p := range g.parts {
			if binary {
				opts.BinarySection = append(opts.BinarySection, &imap.FetchItemBinarySection{Part: p, Peek: true})
			} else {
				opts.BodySection = append(opts.BodySection, &imap.FetchItemBodySection{Part: p, Peek: true})
			}
		}
		cmds[i] = cn.c.Fetch(imap.UIDSetNum(g.uids...), opts)
	}
	return func() error {
		var wg sync.WaitGroup
		for i, g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := sc.readGroup(cmds[i], g)
				if err == nil {
					g.got, g.raw = got, !binary
				}
				g.err = err
			}()
		}
		wg.Wait()
		for _, g := range groups {
			if g.err == nil {
				continue
			}
			if cerr := sc.check(g.err); connectors.IsRetryable(cerr) {
				return fmt.Errorf("imap %s: fetch parts: %w", sc.s.name, cerr)
			}
		}
		return nil
	}
}

// readGroup reads one prefetch command's answer. A part larger than
// BODYSTRUCTURE promised is left out (Open streams it). A literal that
// ends early broke the connection: the command is left alone (draining
// it would race go-imap's reader) and ErrDropped returned.
func (sc *scanner) readGroup(cmd *imapclient.FetchCommand, g *partGroup) (map[imap.UID]map[string][]byte, error) {
	got := map[imap.UID]map[string][]byte{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid imap.UID
		parts := map[string][]byte{}
		for item := msg.Next(); item != nil; item = msg.Next() {
			var lit imap.LiteralReader
			var part []int
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
				continue
			case imapclient.FetchItemDataBinarySection:
				lit, part = it.Literal, it.Section.Part
			case imapclient.FetchItemDataBodySection:
				lit, part = it.Literal, it.Section.Part
			default:
				continue
			}
			if lit == nil || lit.Size() > batchPartMax {
				continue // NIL, or not what BODYSTRUCTURE promised: Open streams it
			}
			b := make([]byte, lit.Size())
			_, err := io.ReadFull(&fullLiteral{r: lit, left: lit.Size()}, b)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrDropped, err)
			}
			sc.s.counters.bytes.Add(int64(len(b)))
			parts[partString(part)] = b
		}
		if uid != 0 && slices.Contains(g.uids, uid) {
			got[uid] = parts
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	return got, nil
}

// decodePart undoes a part's transfer encoding in memory: ok is false when
// the bytes do not decode (Open then reports the part).
func decodePart(raw []byte, encoding string) ([]byte, bool) {
	dec, err := decoder(bytes.NewReader(raw), encoding)
	if err != nil {
		return nil, false
	}
	out := bytes.NewBuffer(make([]byte, 0, len(raw)+bytes.MinRead)) // decoded is never longer
	if _, err := out.ReadFrom(dec); err != nil {
		return nil, false
	}
	return out.Bytes(), true
}
