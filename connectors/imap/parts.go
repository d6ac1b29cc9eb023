package imap

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/syncd/syncd/connectors"
)

// Skip reasons recorded on items that are not documents.
const (
	SkipSignatureLogo = "signature-logo"
	SkipCalendar      = "calendar-invite"
	SkipInline        = "inline-part"
	SkipForwarded     = "forwarded-message"
	SkipDepth         = "nesting-depth"
	SkipSizeLimit     = "size-limit"
	SkipBlockedType   = "blocked-type"
	SkipFilterDate    = "filter-date"
	SkipFilterFrom    = "filter-from"
	SkipFilterTo      = "filter-to"
	SkipFilterSubject = "filter-subject"
	SkipExternalBody  = "external-body"
)

// innerMsg is one message/rfc822 level enclosing a part.
type innerMsg struct {
	MessageID string
	Subject   string
}

// partPlan is one MIME part the scan reports: a document or a skip.
type partPlan struct {
	Path      []int  // IMAP part number
	Name      string // decoded file name (generated when the part has none)
	MediaType string // lower case type/subtype
	Encoding  string // lower case Content-Transfer-Encoding
	EncSize   int64  // encoded size from BODYSTRUCTURE
	Size      int64  // decoded size when known, else -1
	Skip      string
	TNEF      bool // winmail.dat to expand
	Inner     []innerMsg
	// Generated: the part has no file name; Name was made up for display.
	Generated bool
	// CID is the Content-ID (without brackets) of an image in a
	// multipart/related group: it is embedded (SkipSignatureLogo) only if
	// an HTML part of the group, Related, references it as "cid:".
	CID     string
	Related string
	// data: the part's bytes, transfer encoding undone, when fetched with
	// its batch (see prefetch); Open then serves them.
	data []byte
}

// partString renders an IMAP part number: "2.1".
func partString(p []int) string {
	var b strings.Builder
	for i, n := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// parsePart parses "2.1" (and "" for the whole body).
func parsePart(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad part number %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// planner decides, from a BODYSTRUCTURE alone, which parts are documents.
type planner struct {
	inlineNamed bool
	embedded    bool
	calendar    bool
	forwarded   bool
	tnef        bool
	maxDepth    int
	subject     string
	out         []partPlan
	// htmls: the HTML parts of each multipart/related group (by the
	// group's part number), to look for the cid: references in.
	htmls map[string][]htmlPart
}

// htmlPart is a text/html body part of a multipart/related group.
type htmlPart struct {
	Path     []int
	Encoding string // lower case Content-Transfer-Encoding
}

func newPlanner(s *settings, subject string) *planner {
	a := s.Attachments
	return &planner{
		inlineNamed: boolOr(a.InlineWithFilename, true),
		embedded:    boolOr(a.EmbeddedImages, false),
		calendar:    boolOr(a.CalendarInvites, false),
		forwarded:   boolOr(a.ForwardedMessages, true),
		tnef:        boolOr(a.TNEF, true),
		maxDepth:    a.MaxDepth,
		subject:     subject,
	}
}

// plan walks bs and returns the parts to report, in part-number order.
func (p *planner) plan(bs imap.BodyStructure) []partPlan {
	p.out, p.htmls = nil, nil
	p.walk(bs, nil, "", nil, 0, nil)
	return p.out
}

// walk plans bs; rel is the part number of the nearest enclosing
// multipart/related within the same message (nil when none).
func (p *planner) walk(bs imap.BodyStructure, path []int, parent string, inner []innerMsg, depth int, rel []int) {
	switch b := bs.(type) {
	case *imap.BodyStructureMultiPart:
		sub := strings.ToLower(b.Subtype)
		if sub == "related" {
			rel = path
			if rel == nil {
				rel = []int{} // the message itself: part "" (its body)
			}
		}
		for i, c := range b.Children {
			p.walk(c, appendPath(path, i+1), sub, inner, depth, rel)
		}
	case *imap.BodyStructureSinglePart:
		p.single(b, path, parent, inner, depth, rel)
	}
}

// mediaType is a part's lower-case type/subtype. RFC 2045 section 5.2: a
// missing or invalid Content-Type (servers report "text; charset=...",
// "text/plain>" or "<html>" as an empty or odd type) is text/plain.
func mediaType(typ, sub string) string {
	typ, sub = strings.ToLower(typ), strings.ToLower(sub)
	if !isToken(typ) || !isToken(sub) {
		return "text/plain"
	}
	return typ + "/" + sub
}

// isToken reports whether s is an RFC 2045 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

func appendPath(path []int, n int) []int {
	out := make([]int, len(path), len(path)+1)
	copy(out, path)
	return append(out, n)
}

func (p *planner) single(b *imap.BodyStructureSinglePart, path []int, parent string, inner []innerMsg, depth int, rel []int) {
	if len(path) == 0 {
		path = []int{1} // a non-multipart message's body is part 1
	}
	mt := mediaType(b.Type, b.Subtype)
	disp := ""
	var dparams map[string]string
	if d := b.Disposition(); d != nil {
		disp, dparams = strings.ToLower(d.Value), d.Params
	}
	name := decodeParam(dparams, "filename")
	if name == "" {
		name = decodeParam(b.Params, "name")
	}
	if (mt == "message/rfc822" || mt == "message/global") && b.MessageRFC822 != nil {
		p.message(b, path, name, inner, depth)
		return
	}
	pp := partPlan{
		Path: path, Name: name, MediaType: mt, Encoding: strings.ToLower(strings.TrimSpace(b.Encoding)),
		EncSize: int64(b.Size), Size: -1, Inner: inner,
	}
	if pp.Encoding == "" || pp.Encoding == "7bit" || pp.Encoding == "8bit" || pp.Encoding == "binary" {
		pp.Size = pp.EncSize
	}
	switch {
	case mt == "message/external-body":
		pp.Skip = SkipExternalBody // an access stub (RFC 2046 5.2.3): never the content
	case isCalendar(mt, name):
		if name == "" && disp != "attachment" && strings.HasPrefix(parent, "alternative") {
			pp.Name, pp.Generated = generatedName(p.subject, mt), true
		}
		if !p.calendar {
			pp.Skip = SkipCalendar
		}
	case b.ID != "" && parent == "related" && disp != "attachment" && strings.HasPrefix(mt, "image/"):
		// Embedded only if the group's HTML shows it (resolved by the scan).
		if !p.embedded {
			pp.CID, pp.Related = contentID(b.ID), partString(rel)
		}
	case disp == "attachment":
	case name != "":
		if disp == "inline" && !p.inlineNamed {
			pp.Skip = SkipInline
		}
	case strings.HasPrefix(mt, "text/") || strings.HasPrefix(mt, "multipart/") || mt == "message/delivery-status":
		if mt == "text/html" && rel != nil {
			if p.htmls == nil {
				p.htmls = map[string][]htmlPart{}
			}
			k := partString(rel)
			p.htmls[k] = append(p.htmls[k], htmlPart{Path: path, Encoding: pp.Encoding})
		}
		return // a body, not an attachment
	}
	if pp.Skip == "" {
		pp.Skip = connectors.MailNoiseReason(name, mt)
	}
	if pp.Name == "" {
		pp.Name, pp.Generated = generatedName(p.subject, mt), true
	}
	if pp.Skip == "" && p.tnef && isTNEF(mt, pp.Name) {
		pp.TNEF = true
	}
	p.out = append(p.out, pp)
}

// message handles a message/rfc822 part: recurse, or record it as skipped.
func (p *planner) message(b *imap.BodyStructureSinglePart, path []int, name string, inner []innerMsg, depth int) {
	m := b.MessageRFC822
	in := innerMsg{}
	if m.Envelope != nil {
		in = innerMsg{MessageID: bracket(m.Envelope.MessageID), Subject: m.Envelope.Subject}
	}
	if !p.forwarded || depth+1 > p.maxDepth || m.BodyStructure == nil {
		skip := SkipForwarded
		if p.forwarded {
			skip = SkipDepth
		}
		generated := name == ""
		if generated {
			name = generatedName(in.Subject, "message/rfc822")
		}
		p.out = append(p.out, partPlan{Path: path, Name: name, MediaType: "message/rfc822",
			Encoding: strings.ToLower(b.Encoding), EncSize: int64(b.Size), Size: -1, Skip: skip, Inner: inner,
			Generated: generated})
		return
	}
	chain := append(append([]innerMsg{}, inner...), in)
	saved := p.subject
	if in.Subject != "" {
		p.subject = in.Subject
	}
	if _, multi := m.BodyStructure.(*imap.BodyStructureMultiPart); multi {
		p.walk(m.BodyStructure, path, "", chain, depth+1, nil)
	} else {
		p.walk(m.BodyStructure, appendPath(path, 1), "", chain, depth+1, nil)
	}
	p.subject = saved
}

// contentID is a Content-ID without its angle brackets and spaces.
func contentID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	return strings.TrimSpace(id)
}

func bracket(id string) string {
	if id == "" || strings.HasPrefix(id, "<") {
		return id
	}
	return "<" + id + ">"
}

func isCalendar(mt, name string) bool {
	switch mt {
	case "text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics":
		return true
	}
	return strings.HasSuffix(strings.ToLower(name), ".ics") || strings.HasSuffix(strings.ToLower(name), ".vcs")
}

func isTNEF(mt, name string) bool {
	return mt == "application/ms-tnef" || mt == "application/vnd.ms-tnef" || strings.EqualFold(name, "winmail.dat")
}
