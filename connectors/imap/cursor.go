package imap

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/syncd/syncd/connectors"
)

// boxState is the cursor of one mailbox.
type boxState struct {
	UIDValidity   uint32 `json:"uidvalidity"`
	LastUID       uint32 `json:"last_uid"`
	HighestModSeq uint64 `json:"highestmodseq,omitempty"`
	// Tracked: Present and Messages describe the mailbox as last
	// examined, so expunged messages can be told (cursors written before
	// syncd noticed deletions have neither: the next scan examines the
	// mailbox once to learn them). Present is an IMAP UID set; UIDs in it
	// above LastUID are not reported yet and mean nothing.
	Tracked  bool   `json:"tracked,omitempty"`
	Messages uint32 `json:"messages,omitempty"`
	Present  string `json:"present,omitempty"`
}

// cursor is the JSON cursor of a source: per mailbox (display name) state.
type cursor struct {
	Mailboxes map[string]boxState `json:"mailboxes"`
}

func parseCursor(c connectors.Cursor) (cursor, error) {
	cur := cursor{Mailboxes: map[string]boxState{}}
	if len(c) == 0 {
		return cur, nil
	}
	if err := json.Unmarshal(c, &cur); err != nil {
		return cur, fmt.Errorf("bad cursor: %w", err)
	}
	if cur.Mailboxes == nil {
		cur.Mailboxes = map[string]boxState{}
	}
	return cur, nil
}

func (c cursor) bytes() connectors.Cursor {
	b, _ := json.Marshal(c)
	return b
}

// ref is the parsed form of an item Ref:
// "<account>/<mailbox>/<uidvalidity>/<uid>/<part>[#<tnef index>]".
type ref struct {
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	Part        []int
	TNEF        int // 1-based attachment index inside a winmail.dat, 0 if none
}

func (s *Source) refString(r ref) connectors.Ref {
	p := partString(r.Part)
	if r.TNEF > 0 {
		p += "#" + strconv.Itoa(r.TNEF)
	}
	return connectors.Ref(fmt.Sprintf("%s/%s/%d/%d/%s", s.cfg.Account, r.Mailbox, r.UIDValidity, r.UID, p))
}

// boxRef names every item of one mailbox generation; messageRef every
// part of one message (see connectors.Gone's Under).
func (s *Source) boxRef(mailbox string, validity uint32) connectors.Ref {
	return connectors.Ref(fmt.Sprintf("%s/%s/%d", s.cfg.Account, mailbox, validity))
}

func (s *Source) messageRef(mailbox string, validity, uid uint32) connectors.Ref {
	return connectors.Ref(fmt.Sprintf("%s/%s/%d/%d", s.cfg.Account, mailbox, validity, uid))
}

func (s *Source) parseRef(r connectors.Ref) (ref, error) {
	var out ref
	rest, ok := strings.CutPrefix(string(r), s.cfg.Account+"/")
	if !ok {
		return out, ErrBadRef
	}
	f := strings.Split(rest, "/")
	if len(f) < 4 {
		return out, ErrBadRef
	}
	n := len(f)
	part, tn, hasT := strings.Cut(f[n-1], "#")
	v, err1 := strconv.ParseUint(f[n-3], 10, 32)
	u, err2 := strconv.ParseUint(f[n-2], 10, 32)
	p, err3 := parsePart(part)
	if err1 != nil || err2 != nil || err3 != nil || len(p) == 0 {
		return out, ErrBadRef
	}
	if hasT {
		t, err := strconv.Atoi(tn)
		if err != nil || t <= 0 {
			return out, ErrBadRef
		}
		out.TNEF = t
	}
	out.Mailbox = strings.Join(f[:n-3], "/")
	out.UIDValidity, out.UID, out.Part = uint32(v), uint32(u), p
	return out, nil
}

// parseUIDSet reads a UID set as UIDSet.String writes it ("1:5,7"); "*"
// is refused (the cursor never holds one).
func parseUIDSet(s string) (imap.UIDSet, error) {
	var set imap.UIDSet
	for _, r := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(r, ":")
		lo, err := strconv.ParseUint(a, 10, 32)
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.ParseUint(b, 10, 32)
		}
		if err != nil || lo == 0 || hi == 0 {
			return nil, fmt.Errorf("bad UID set %q", s)
		}
		set.AddRange(imap.UID(min(lo, hi)), imap.UID(max(lo, hi)))
	}
	return set, nil
}
