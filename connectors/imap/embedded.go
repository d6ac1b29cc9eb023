package imap

import (
	"bytes"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/syncd/syncd/connectors"
)

// maxHTMLScan bounds how much of one HTML part is read to find the images
// it shows. A reference past it is not seen: the image is then reported as
// an attachment (stored, never lost).
const maxHTMLScan = 1 << 20

// resolveEmbedded decides which images of multipart/related groups are
// embedded in the message (skipped as SkipSignatureLogo): those an HTML part
// of the same group references as "cid:". The others are attachments, as a
// mail client lists them. The HTML parts, at most maxHTMLScan bytes each,
// are fetched with one FETCH for all the messages whose HTML parts have the
// same part numbers (mail from one client shares a shape), one command at
// a time: a pipeline of commands whose responses carry literals could fill
// the connection both ways and stall.
func (sc *scanner) resolveEmbedded(cn *conn, plans []*msgPlan) error {
	type want struct {
		mp    *msgPlan
		html  []htmlPart
		group []string // the related group of each HTML part
	}
	byShape := map[string][]*want{}
	var shapes []string
	for _, mp := range plans {
		w := &want{mp: mp}
		var shape strings.Builder
		for _, g := range relatedGroups(mp) {
			for _, h := range mp.htmls[g] {
				w.html, w.group = append(w.html, h), append(w.group, g)
				shape.WriteString(partString(h.Path) + " ")
			}
		}
		if len(w.html) == 0 {
			continue // no HTML in the groups: nothing is shown inline
		}
		k := shape.String()
		if byShape[k] == nil {
			shapes = append(shapes, k)
		}
		byShape[k] = append(byShape[k], w)
	}
	for _, k := range shapes {
		ws := byShape[k]
		var secs []*imap.FetchItemBodySection
		for _, h := range ws[0].html {
			secs = append(secs, &imap.FetchItemBodySection{Part: h.Path, Peek: true,
				Partial: &imap.SectionPartial{Offset: 0, Size: maxHTMLScan}})
		}
		byUID := map[imap.UID]*want{}
		var uids []imap.UID
		for _, w := range ws {
			byUID[imap.UID(w.mp.meta.UID)] = w
			uids = append(uids, imap.UID(w.mp.meta.UID))
		}
		bufs, err := collectMeta(cn.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: secs}))
		if err != nil {
			if c := sc.check(err); connectors.IsRetryable(c) {
				return c
			}
			// Refused (in part): the images of what is missing stay attachments.
		}
		for _, b := range bufs {
			if w := byUID[b.UID]; w != nil {
				markEmbedded(w.mp, w.html, w.group, b.BodySection)
			}
		}
	}
	return nil
}

// markEmbedded skips the images of mp that the fetched HTML parts show.
func markEmbedded(mp *msgPlan, html []htmlPart, group []string, secs []imapclient.FetchBodySectionBuffer) {
	shown := map[string]bool{} // group + "\x00" + lower-case cid
	for _, sec := range secs {
		ps := partString(sec.Section.Part)
		for j, h := range html {
			if partString(h.Path) == ps {
				for _, id := range cidRefs(decodeBounded(sec.Bytes, h.Encoding)) {
					shown[group[j]+"\x00"+id] = true
				}
			}
		}
	}
	for i := range mp.parts {
		p := &mp.parts[i]
		if p.CID != "" && shown[p.Related+"\x00"+strings.ToLower(p.CID)] {
			p.Skip = SkipSignatureLogo
		}
	}
}

// relatedGroups lists, sorted, the groups holding images to decide.
func relatedGroups(mp *msgPlan) []string {
	var out []string
	for _, p := range mp.parts {
		if p.CID != "" && !slices.Contains(out, p.Related) {
			out = append(out, p.Related)
		}
	}
	slices.Sort(out)
	return out
}

// decodeBounded undoes the transfer encoding of a part's first bytes; a
// quantum or escape cut off at the end is dropped.
func decodeBounded(raw []byte, encoding string) []byte {
	r, err := decoder(bytes.NewReader(raw), encoding)
	if err != nil {
		return raw
	}
	b, _ := io.ReadAll(r)
	return b
}

// cidRefs returns the Content-IDs an HTML text references as "cid:" URLs
// (RFC 2392: percent-encoded), lower case.
func cidRefs(html []byte) []string {
	var out []string
	low := bytes.ToLower(html)
	for {
		i := bytes.Index(low, []byte("cid:"))
		if i < 0 {
			return out
		}
		low = low[i+4:]
		end := bytes.IndexAny(low, "\"'<>() \t\r\n")
		if end < 0 {
			end = len(low)
		}
		id := string(low[:end])
		if u, err := url.PathUnescape(id); err == nil {
			id = u
		}
		if id = contentID(id); id != "" {
			out = append(out, strings.ToLower(id))
		}
	}
}
