package imap

import (
	"bytes"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

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
// are fetched in one pipelined FETCH per message that has such images.
func (sc *scanner) resolveEmbedded(cn *conn, plans []*msgPlan) error {
	var waits []func() error
	for _, mp := range plans {
		var secs []*imap.FetchItemBodySection
		var html []htmlPart
		var group []string
		for _, g := range relatedGroups(mp) {
			for _, h := range mp.htmls[g] {
				secs = append(secs, &imap.FetchItemBodySection{Part: h.Path, Peek: true,
					Partial: &imap.SectionPartial{Offset: 0, Size: maxHTMLScan}})
				html, group = append(html, h), append(group, g)
			}
		}
		if len(secs) == 0 {
			continue // no HTML in the groups: nothing is shown inline
		}
		cmd := cn.c.Fetch(imap.UIDSetNum(imap.UID(mp.meta.UID)), &imap.FetchOptions{UID: true, BodySection: secs})
		waits = append(waits, func() error {
			bufs, err := collectMeta(cmd)
			if err != nil {
				return err
			}
			shown := map[string]bool{} // group + "\x00" + lower-case cid
			for _, b := range bufs {
				for _, sec := range b.BodySection {
					ps := partString(sec.Section.Part)
					for j, h := range html {
						if partString(h.Path) == ps {
							for _, id := range cidRefs(decodeBounded(sec.Bytes, h.Encoding)) {
								shown[group[j]+"\x00"+id] = true
							}
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
			return nil
		})
	}
	for _, w := range waits {
		if err := w(); err != nil {
			if c := sc.check(err); connectors.IsRetryable(c) {
				return c
			}
			// The server would not send the HTML: the images stay attachments.
		}
	}
	return nil
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
