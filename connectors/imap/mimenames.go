package imap

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/textproto"

	"github.com/syncd/syncd/connectors"
)

// fixNames re-reads the MIME headers of parts whose BODYSTRUCTURE name did
// not decode cleanly (a server that mangled RFC 2231 charsets) and decodes
// the raw parameters itself. One pipelined FETCH per affected message.
func (sc *scanner) fixNames(cn *conn, plans []*msgPlan) error {
	var waits []func() error
	for _, mp := range plans {
		var secs []*imap.FetchItemBodySection
		var idx []int
		for i, p := range mp.parts {
			if strings.ContainsRune(p.Name, '\uFFFD') {
				secs = append(secs, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierMIME, Part: p.Path, Peek: true})
				idx = append(idx, i)
			}
		}
		if len(secs) == 0 {
			continue
		}
		cmd := cn.c.Fetch(imap.UIDSetNum(imap.UID(mp.meta.UID)), &imap.FetchOptions{UID: true, BodySection: secs})
		waits = append(waits, func() error {
			bufs, err := collectMeta(cmd)
			if err != nil {
				return err
			}
			for _, b := range bufs {
				for _, sec := range b.BodySection {
					for j, s := range secs {
						if sec.Section.Specifier == s.Specifier && partString(sec.Section.Part) == partString(s.Part) {
							if n := nameFromMIME(sec.Bytes); n != "" {
								mp.parts[idx[j]].Name, mp.parts[idx[j]].Generated = n, false
							}
						}
					}
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
		}
	}
	return nil
}

// nameFromMIME decodes the file name from a part's raw MIME header.
func nameFromMIME(raw []byte) string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return ""
	}
	if n := decodeParam(rawParams(h.Get("Content-Disposition")), "filename"); n != "" {
		return n
	}
	return decodeParam(rawParams(h.Get("Content-Type")), "name")
}
