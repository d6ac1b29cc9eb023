package imap

import (
	"path"
	"strings"
)

// messageSkip applies the message-level filters: date, from, to, subject.
func (c *settings) messageSkip(m msgMeta) string {
	if !c.since.IsZero() && m.Date.Before(c.since) {
		return SkipFilterDate
	}
	if !c.before.IsZero() && !m.Date.Before(c.before) {
		return SkipFilterDate
	}
	if len(c.Filters.From) > 0 && !addrMatch(c.Filters.From, []string{m.From}) {
		return SkipFilterFrom
	}
	if len(c.Filters.To) > 0 && !addrMatch(c.Filters.To, append(append([]string{}, m.To...), m.Cc...)) {
		return SkipFilterTo
	}
	if c.subjectRE != nil && !c.subjectRE.MatchString(m.Subject) {
		return SkipFilterSubject
	}
	return ""
}

// addrMatch reports whether any address matches any pattern; a pattern is
// a full address or a domain ("example.org" or "@example.org").
func addrMatch(patterns, addrs []string) bool {
	for _, a := range addrs {
		a = strings.ToLower(a)
		for _, p := range patterns {
			p = strings.ToLower(strings.TrimPrefix(p, "@"))
			if a == p || strings.HasSuffix(a, "@"+p) {
				return true
			}
		}
	}
	return false
}

// partSkip applies the part-level filters: size, media type, extension.
func (c *settings) partSkip(name, mediaType string, size int64) string {
	f := c.Filters
	if (f.MinSize > 0 && size < f.MinSize) || (f.MaxSize > 0 && size > f.MaxSize) {
		return SkipSizeLimit
	}
	ext := strings.ToLower(path.Ext(name))
	if typeMatch(f.DenyTypes, mediaType) || extMatch(f.DenyExt, ext) {
		return SkipBlockedType
	}
	if len(f.AllowTypes) > 0 || len(f.AllowExt) > 0 {
		if !typeMatch(f.AllowTypes, mediaType) && !extMatch(f.AllowExt, ext) {
			return SkipBlockedType
		}
	}
	return ""
}

func typeMatch(patterns []string, mt string) bool {
	for _, p := range patterns {
		p = strings.ToLower(p)
		if p == mt || (strings.HasSuffix(p, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

func extMatch(exts []string, ext string) bool {
	if ext == "" {
		return false
	}
	for _, e := range exts {
		if "."+strings.TrimPrefix(strings.ToLower(e), ".") == ext {
			return true
		}
	}
	return false
}
