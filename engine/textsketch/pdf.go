package textsketch

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"strconv"
	"unicode/utf16"
)

// extractPDF streams a PDF once, front to back. Every stream whose
// dictionary says it is a FlateDecode (or unfiltered) content stream is
// inflated on the fly and its text-showing operators (Tj, TJ, ', ") are fed
// to sh. Fonts, images, object and xref streams are skipped. Text in
// fonts with custom encodings (CID fonts) is not decoded.
func (o Options) extractPDF(r io.Reader, sh *shingler) error {
	br := getReader(r)
	defer putReader(br)
	var win []byte // bytes since the last "obj" keyword, capped
	found := false
	for !sh.full() {
		// Find the next 'm' (end of "stream") or 'j' (end of "obj") in the
		// buffered bytes; everything before it only extends the window.
		if _, err := br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		chunk, _ := br.Peek(br.Buffered())
		i := 0
		for i < len(chunk) && chunk[i] != 'm' && chunk[i] != 'j' {
			i++
		}
		if i == len(chunk) {
			win = appendWindow(win, chunk)
			br.Discard(len(chunk))
			continue
		}
		b := chunk[i]
		win = appendWindow(win, chunk[:i+1])
		br.Discard(i + 1)
		if b != 'm' || !bytes.HasSuffix(win, []byte("stream")) || bytes.HasSuffix(win, []byte("endstream")) {
			if b == 'j' && bytes.HasSuffix(win, []byte(" obj")) {
				win = win[:0]
			}
			continue
		}
		if ok, err := skipEOL(br); err != nil {
			break
		} else if !ok {
			continue // "stream" inside another word
		}
		dict := win
		win = win[:0]
		if !contentDict(dict) {
			continue
		}
		found = true
		cs := &contentStream{sh: sh}
		if bytes.Contains(dict, []byte("/FlateDecode")) || bytes.Contains(dict, []byte("/Fl ")) {
			zr, err := zlib.NewReader(br)
			if err != nil {
				continue // damaged stream: skip to the next one
			}
			cs.run(io.LimitReader(zr, o.MaxPartBytes))
			zr.Close()
		} else {
			cs.run(&untilEndstream{br: br, left: o.MaxPartBytes})
		}
	}
	if !found {
		return ErrCorrupt
	}
	return nil
}

// appendWindow appends p to the window of bytes since the last "obj" as if
// byte by byte, keeping only the last 1024 bytes whenever it would pass
// 4096: the window is always a suffix of the stream, of the length that
// rule gives.
func appendWindow(win, p []byte) []byte {
	total := len(win) + len(p)
	if total <= 4096 {
		return append(win, p...)
	}
	keep := 1024 + (total-4097)%3073
	if keep <= len(p) {
		return append(win[:0], p[len(p)-keep:]...)
	}
	win = append(win[:0], win[len(win)-(keep-len(p)):]...)
	return append(win, p...)
}

// contentDict reports whether a stream dictionary looks like page content.
func contentDict(d []byte) bool {
	for _, bad := range []string{"/Image", "/Length1", "/Length2", "/Length3", "/ObjStm", "/XRef", "/Metadata",
		"/EmbeddedFile", "/ICCBased", "/FontFile", "/Type1C", "/CIDFontType0C", "/OpenType", "/DCTDecode", "/JPXDecode",
		"/CCITTFaxDecode", "/JBIG2Decode", "/N 3", "/N 4", "/N 1 "} {
		if bytes.Contains(d, []byte(bad)) {
			return false
		}
	}
	if bytes.Contains(d, []byte("/Filter")) && !bytes.Contains(d, []byte("/FlateDecode")) && !bytes.Contains(d, []byte("/Fl ")) {
		return false
	}
	return true
}

// skipEOL consumes the end of line after the "stream" keyword and reports
// whether there was one.
func skipEOL(br *bufio.Reader) (bool, error) {
	b, err := br.ReadByte()
	if err != nil {
		return false, err
	}
	switch b {
	case '\r':
		if n, err := br.Peek(1); err == nil && n[0] == '\n' {
			br.ReadByte()
		}
		return true, nil
	case '\n':
		return true, nil
	}
	return false, br.UnreadByte()
}

// untilEndstream reads an unfiltered stream up to its "endstream" keyword.
type untilEndstream struct {
	br   *bufio.Reader
	tail []byte
	left int64
	done bool
}

func (u *untilEndstream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && !u.done && u.left > 0 {
		b, err := u.br.ReadByte()
		if err != nil {
			u.done = true
			break
		}
		u.left--
		p[n] = b
		n++
		u.tail = append(u.tail, b)
		if len(u.tail) > 9 {
			u.tail = u.tail[1:]
		}
		if bytes.Equal(u.tail, []byte("endstream")) {
			u.done = true
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// contentStream is a small tokenizer for PDF content streams that keeps
// only the strings shown by text operators.
type contentStream struct {
	sh      *shingler
	br      *bufio.Reader
	pending []byte // shown text waiting for its operator
	inArray bool
}

func (c *contentStream) run(r io.Reader) {
	c.br = bufio.NewReader(r)
	var tok []byte
	for !c.sh.full() {
		b, err := c.br.ReadByte()
		if err != nil {
			c.token(tok)
			return
		}
		if !isDelim(b) {
			tok = append(tok, b)
			continue
		}
		c.token(tok)
		tok = tok[:0]
		switch b {
		case '(':
			c.pending = append(c.pending, decodePDFString(c.literal())...)
		case '<':
			if n, err := c.br.Peek(1); err == nil && n[0] == '<' {
				c.br.ReadByte()
				continue
			}
			c.pending = append(c.pending, decodePDFString(c.hex())...)
		case '[':
			c.inArray = true
		case ']':
			c.inArray = false
		case '%':
			c.br.ReadSlice('\n')
		}
	}
}

func isDelim(b byte) bool {
	switch b {
	case ' ', '\t', '\r', '\n', '\f', 0, '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// token handles a regular token: a number inside a TJ array (a large
// negative kern is a word space) or an operator.
func (c *contentStream) token(tok []byte) {
	if len(tok) == 0 {
		return
	}
	if f, err := strconv.ParseFloat(string(tok), 64); err == nil {
		if c.inArray && f < -200 {
			c.pending = append(c.pending, ' ')
		}
		return
	}
	switch string(tok) {
	case "Tj", "TJ", "'", "\"":
		c.sh.Write(c.pending)
		c.sh.sep(' ')
	}
	c.pending = c.pending[:0]
}

// literal reads a (string) after its opening parenthesis.
func (c *contentStream) literal() []byte {
	var out []byte
	depth := 1
	for len(out) < 1<<16 {
		b, err := c.br.ReadByte()
		if err != nil {
			return out
		}
		switch b {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return out
			}
		case '\\':
			out = c.escape(out)
			continue
		}
		out = append(out, b)
	}
	return out
}

func (c *contentStream) escape(out []byte) []byte {
	b, err := c.br.ReadByte()
	if err != nil {
		return out
	}
	switch b {
	case 'n':
		return append(out, '\n')
	case 'r':
		return append(out, '\r')
	case 't':
		return append(out, '\t')
	case 'b', 'f':
		return append(out, ' ')
	case '\r', '\n':
		return out
	}
	if b < '0' || b > '7' {
		return append(out, b)
	}
	v := int(b - '0')
	for i := 0; i < 2; i++ {
		n, err := c.br.Peek(1)
		if err != nil || n[0] < '0' || n[0] > '7' {
			break
		}
		c.br.ReadByte()
		v = v*8 + int(n[0]-'0')
	}
	return append(out, byte(v))
}

func (c *contentStream) hex() []byte {
	var out []byte
	hi, half := byte(0), false
	for len(out) < 1<<16 {
		b, err := c.br.ReadByte()
		if err != nil || b == '>' {
			break
		}
		v, ok := unhex(b)
		if !ok {
			continue
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out
}

func unhex(b byte) (byte, bool) {
	switch {
	case b >= '0' && b <= '9':
		return b - '0', true
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10, true
	case b >= 'A' && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

// cp1252 maps the WinAnsiEncoding bytes 0x80-0x9F that differ from Latin-1.
var cp1252 = map[byte]rune{0x80: '€', 0x82: '‚', 0x84: '„', 0x85: '…', 0x8A: 'Š', 0x8C: 'Œ', 0x8E: 'Ž',
	0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•', 0x96: '–', 0x97: '—', 0x9A: 'š', 0x9C: 'œ',
	0x9E: 'ž', 0x9F: 'Ÿ'}

// decodePDFString decodes a PDF string: UTF-16BE with a BOM, else WinAnsi.
func decodePDFString(s []byte) []byte {
	if len(s) >= 2 && s[0] == 0xFE && s[1] == 0xFF {
		u := make([]uint16, 0, len(s)/2)
		for i := 2; i+1 < len(s); i += 2 {
			u = append(u, uint16(s[i])<<8|uint16(s[i+1]))
		}
		return []byte(string(utf16.Decode(u)))
	}
	out := make([]byte, 0, len(s))
	for _, b := range s {
		if r, ok := cp1252[b]; ok {
			out = append(out, string(r)...)
		} else {
			out = append(out, string(rune(b))...)
		}
	}
	return out
}
