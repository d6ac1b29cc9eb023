package textsketch

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"unicode/utf8"
)

// readers recycles the extractors' read buffers.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil) // drop the reference to the input
	readers.Put(br)
}

// extractText feeds plain text (txt, csv): UTF-8 with or without a BOM, or
// UTF-16 with a BOM; bytes that are not valid UTF-8 are read as Latin-1.
func extractText(r io.Reader, sh *shingler) error {
	br := getReader(r)
	defer putReader(br)
	bom, _ := br.Peek(3)
	switch {
	case len(bom) >= 3 && bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF:
		br.Discard(3)
	case len(bom) >= 2 && (bom[0] == 0xFF && bom[1] == 0xFE || bom[0] == 0xFE && bom[1] == 0xFF):
		br.Discard(2)
		return utf16Text(br, bom[0] == 0xFE, sh)
	}
	var buf []byte
	for !sh.full() {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		if utf8.Valid(line) {
			sh.Write(line)
		} else {
			buf = appendText(buf[:0], line)
			sh.Write(buf)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// appendText appends p as UTF-8, reading invalid bytes as Latin-1.
func appendText(dst, p []byte) []byte {
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n <= 1 {
			r, n = rune(p[0]), 1
		}
		dst = utf8.AppendRune(dst, r)
		p = p[n:]
	}
	return dst
}

func utf16Text(br *bufio.Reader, bigEndian bool, sh *shingler) error {
	var pair [2]byte
	var hi rune
	for !sh.full() {
		if _, err := io.ReadFull(br, pair[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		u := rune(pair[0]) | rune(pair[1])<<8
		if bigEndian {
			u = rune(pair[1]) | rune(pair[0])<<8
		}
		switch {
		case u >= 0xD800 && u < 0xDC00:
			hi = u
			continue
		case u >= 0xDC00 && u < 0xE000 && hi != 0:
			u = (hi-0xD800)<<10 + (u - 0xDC00) + 0x10000
		}
		hi = 0
		sh.WriteString(string(u))
	}
	return nil
}
