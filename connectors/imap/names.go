package imap

import (
	"bytes"
	"io"
	"mime"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// wordDecoder decodes RFC 2047 encoded-words in any charset go-message knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// decodeParam returns the decoded value of MIME parameter key from params
// (keys lower case, as BODYSTRUCTURE gives them). It handles plain values,
// RFC 2231 extended values (key*=charset'lang'%xx) and continuations
// (key*0, key*1*, ...), and RFC 2047 encoded-words inside quoted values
// (which many clients send although the RFC forbids it).
func decodeParam(params map[string]string, key string) string {
	if len(params) == 0 {
		return ""
	}
	if v, ok := params[key+"*"]; ok {
		return clean(decode2231(v, true))
	}
	if v := continued(params, key); v != "" {
		return clean(v)
	}
	if v, ok := params[key]; ok {
		return clean(decode2047(v))
	}
	return ""
}

// continued joins RFC 2231 continuations key*0, key*1 ... (each maybe
// extended with a trailing '*'); the charset comes from the first segment.
func continued(params map[string]string, key string) string {
	type seg struct {
		n   int
		ext bool
		v   string
	}
	var segs []seg
	prefix := key + "*"
	for k, v := range params {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := strings.TrimPrefix(k, prefix)
		ext := strings.HasSuffix(rest, "*")
		n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
		if err != nil || n < 0 || n > 999 {
			continue
		}
		segs = append(segs, seg{n, ext, v})
	}
	if len(segs) == 0 {
		return ""
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
	if segs[0].n != 0 {
		return ""
	}
	cs := ""
	var raw []byte
	for i, s := range segs {
		if i > 0 && s.n != segs[i-1].n+1 {
			break // a gap ends the value (RFC 2231 section 3)
		}
		v := s.v
		if s.ext {
			if i == 0 {
				cs, v = splitCharset(v)
			}
			raw = append(raw, percentDecode(v)...)
		} else {
			raw = append(raw, v...)
		}
	}
	if cs == "" {
		return decode2047(string(raw))
	}
	return toUTF8(cs, raw)
}

// decode2231 decodes one extended value "charset'lang'%xx".
func decode2231(v string, ext bool) string {
	if !ext {
		return v
	}
	cs, rest := splitCharset(v)
	return toUTF8(cs, percentDecode(rest))
}

func splitCharset(v string) (cs, rest string) {
	parts := strings.SplitN(v, "'", 3)
	if len(parts) != 3 {
		return "", v
	}
	return parts[0], parts[2]
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			out = append(out, byte(n))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// toUTF8 converts raw bytes in charset cs to UTF-8; unknown charsets keep
// valid UTF-8 as is and map other bytes as Latin-1.
func toUTF8(cs string, raw []byte) string {
	cs = strings.ToLower(strings.TrimSpace(cs))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "utf8" {
		if utf8.Valid(raw) {
			return string(raw)
		}
		cs = "iso-8859-1"
	}
	if r, err := charset.Reader(cs, bytes.NewReader(raw)); err == nil {
		if b, err := io.ReadAll(r); err == nil {
			return string(b)
		}
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	var b strings.Builder
	for _, c := range raw {
		b.WriteRune(rune(c))
	}
	return b.String()
}

func decode2047(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// clean removes control characters and surrounding space; the name is
// otherwise kept as the sender wrote it (never used as a path).
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

var unsafeName = regexp.MustCompile(`[\\/:*?"<>|\x00-\x1f]+`)

// generatedName names a part that carries no file name, from the subject
// of its message and its media type: "Quarterly figures.pdf".
func generatedName(subject, mediaType string) string {
	base := strings.TrimSpace(unsafeName.ReplaceAllString(clean(subject), " "))
	if utf8.RuneCountInString(base) > 80 {
		base = string([]rune(base)[:80])
	}
	if base == "" {
		base = "attachment"
	}
	return base + extFor(mediaType)
}

var knownExt = map[string]string{
	"application/pdf": ".pdf", "text/plain": ".txt", "text/html": ".html", "text/csv": ".csv",
	"text/calendar": ".ics", "message/rfc822": ".eml", "image/png": ".png", "image/jpeg": ".jpg",
	"image/gif": ".gif", "application/zip": ".zip", "application/ms-tnef": ".dat",
	"application/msword": ".doc", "application/vnd.ms-excel": ".xls",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}

func extFor(mt string) string {
	if e, ok := knownExt[mt]; ok {
		return e
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}

// rawParams splits a Content-Type or Content-Disposition header value into
// its parameters without decoding them (keys lower case, quotes removed),
// so that decodeParam can apply RFC 2231 with any charset.
func rawParams(v string) map[string]string {
	out := map[string]string{}
	_, rest, ok := strings.Cut(v, ";")
	for ok {
		var item string
		item, rest, ok = cutParam(rest)
		k, val, found := strings.Cut(item, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !found || k == "" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' {
			val = unquote(val)
		}
		out[k] = val
	}
	return out
}

// cutParam cuts at the next ';' outside quotes.
func cutParam(s string) (item, rest string, more bool) {
	inQuote, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && inQuote:
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func unquote(v string) string {
	v = strings.TrimPrefix(v, `"`)
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v):
			i++
			b.WriteByte(v[i])
		case v[i] == '"':
			return b.String()
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}
