package imap

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/syncd/syncd/connectors"
)

// msgMeta is the provenance of one stored message.
type msgMeta struct {
	UID        uint32
	MessageID  string // with angle brackets, as in the header
	InReplyTo  []string
	References []string
	Subject    string
	From       string
	To, Cc     []string
	Date       time.Time // the Date header, else the internal date
	Arrived    time.Time // the internal date (INTERNALDATE)
}

// msgPlan is one message with the parts to report.
type msgPlan struct {
	meta      msgMeta
	structure string // signature of the whole BODYSTRUCTURE
	parts     []partPlan
	htmls     map[string][]htmlPart // HTML parts of multipart/related groups
}

// plan builds the part plans of fetched messages, applying filters.
func (sc *scanner) plan(mb mailbox, validity uint32, msgs []*imapclient.FetchMessageBuffer) []*msgPlan {
	var out []*msgPlan
	for _, m := range msgs {
		sc.s.counters.messages.Add(1)
		if m.BodyStructure == nil {
			continue
		}
		meta := metaOf(m)
		mp := &msgPlan{meta: meta, structure: structureSig(m.BodyStructure)}
		pl := newPlanner(sc.s.cfg, meta.Subject)
		mp.parts, mp.htmls = pl.plan(m.BodyStructure), pl.htmls
		skip := sc.s.cfg.messageSkip(meta)
		for i := range mp.parts {
			p := &mp.parts[i]
			if p.Skip == "" {
				p.Skip = skip
			}
			if p.Skip == "" && !p.TNEF {
				p.Skip = sc.s.cfg.partSkip(p.Name, p.MediaType, estimate(p))
			}
		}
		out = append(out, mp)
	}
	return out
}

func metaOf(m *imapclient.FetchMessageBuffer) msgMeta {
	meta := msgMeta{UID: uint32(m.UID), Date: m.InternalDate, Arrived: m.InternalDate}
	if env := m.Envelope; env != nil {
		meta.Subject = env.Subject
		if !env.Date.IsZero() {
			meta.Date = env.Date
		}
		if len(env.From) > 0 {
			meta.From = strings.ToLower(env.From[0].Addr())
		}
		meta.To = addrs(env.To)
		meta.Cc = addrs(env.Cc)
		meta.MessageID = bracket(env.MessageID)
		for _, id := range env.InReplyTo {
			meta.InReplyTo = append(meta.InReplyTo, bracket(id))
		}
	}
	for _, sec := range m.BodySection {
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(sec.Bytes)))
		if err != nil {
			continue
		}
		if v := strings.TrimSpace(h.Get("Message-Id")); v != "" {
			meta.MessageID = oneLine(v)
		}
		mh := mail.Header{Header: message.Header{Header: h}}
		if ids := msgIDs(mh, "In-Reply-To"); len(ids) > 0 {
			meta.InReplyTo = ids
		}
		meta.References = msgIDs(mh, "References")
	}
	return meta
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func msgIDs(h mail.Header, key string) []string {
	ids, err := h.MsgIDList(key)
	if err != nil {
		return strings.Fields(h.Get(key))
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "<" + id + ">"
	}
	return out
}

func addrs(list []imap.Address) []string {
	var out []string
	for _, a := range list {
		if s := a.Addr(); s != "" {
			out = append(out, strings.ToLower(s))
		}
	}
	return out
}

// structureSig describes a BODYSTRUCTURE (types, encodings, sizes) so two
// copies of one message can be recognised without reading them.
func structureSig(bs imap.BodyStructure) string {
	var b strings.Builder
	var walk func(imap.BodyStructure)
	walk = func(bs imap.BodyStructure) {
		switch x := bs.(type) {
		case *imap.BodyStructureMultiPart:
			fmt.Fprintf(&b, "(%s", strings.ToLower(x.Subtype))
			for _, c := range x.Children {
				walk(c)
			}
			b.WriteString(")")
		case *imap.BodyStructureSinglePart:
			fmt.Fprintf(&b, "[%s/%s %s %d", strings.ToLower(x.Type), strings.ToLower(x.Subtype), strings.ToLower(x.Encoding), x.Size)
			if x.MessageRFC822 != nil && x.MessageRFC822.BodyStructure != nil {
				walk(x.MessageRFC822.BodyStructure)
			}
			b.WriteString("]")
		}
	}
	walk(bs)
	return b.String()
}

// partKey is the "imap-part" content key: equal for the same part of the
// same message wherever it is stored.
func partKey(mp *msgPlan, part string, size int64) string {
	if mp.meta.MessageID == "" {
		return ""
	}
	h := sha256.Sum256([]byte(mp.meta.MessageID + "\x00" + part + "\x00" + fmt.Sprint(size) + "\x00" + mp.structure))
	return hex.EncodeToString(h[:])
}

// estimate is a part's decoded size, exact when known.
func estimate(p *partPlan) int64 {
	if p.Size >= 0 {
		return p.Size
	}
	if p.Encoding == "base64" {
		return p.EncSize * 3 / 4 * 76 / 78
	}
	return p.EncSize
}

// item builds the Item of one part (or one file inside a winmail.dat).
func (s *Source) item(mb mailbox, validity uint32, mp *msgPlan, p *partPlan, tnefIndex int) *connectors.Item {
	r := ref{Mailbox: mb.Display, UIDValidity: validity, UID: mp.meta.UID, Part: p.Path, TNEF: tnefIndex}
	m := mp.meta
	lin := connectors.Lineage{Kind: "mail", MailLineage: connectors.MailLineage{Account: s.cfg.Account,
		Mailbox: mb.Display, UIDValidity: validity, UID: m.UID, MessageID: m.MessageID,
		InReplyTo: m.InReplyTo, References: m.References, Subject: m.Subject, From: m.From, To: m.To,
		Cc: m.Cc, Date: m.Date, Arrived: m.Arrived}}
	lin.Part = partString(p.Path)
	lin.NameGenerated = p.Generated
	if tnefIndex > 0 {
		lin.Part = fmt.Sprintf("%s#%d", lin.Part, tnefIndex)
	}
	for _, in := range p.Inner {
		lin.InnerMessageIDs = append(lin.InnerMessageIDs, in.MessageID)
		lin.InnerSubject = in.Subject
	}
	it := &connectors.Item{
		Ref: s.refString(r), Name: p.Name, Path: mb.Display, Size: p.Size, ModTime: m.Date,
		Author: m.From, MediaType: p.MediaType, Skip: p.Skip, Lineage: lin,
		Private: &openInfo{ref: r, server: mb.Server, encoding: p.Encoding, data: p.data},
	}
	if k := partKey(mp, lin.Part, p.EncSize); k != "" {
		it.Hashes = map[string]string{"imap-part": k}
	}
	return it
}

// openInfo is what Open needs beyond the Ref.
type openInfo struct {
	ref      ref
	server   string // server mailbox name
	encoding string // transfer encoding of the fetched part
	mu       sync.Mutex
	data     []byte // the part's bytes, fetched with its batch (taken by the first Open)
}

// take hands over the part's prefetched bytes once: a later Open of the
// same item reads the server again, and the memory goes with the reader.
func (o *openInfo) take() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.data
	o.data = nil
	return b
}
