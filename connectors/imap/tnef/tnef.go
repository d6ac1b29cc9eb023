// Package tnef reads the files attached inside a Microsoft TNEF stream
// (winmail.dat, application/ms-tnef), as specified in [MS-OXTNEF].
//
// It streams: List reads a whole stream but keeps only names and sizes;
// Open returns a reader positioned on one attachment's bytes. Neither holds
// attachment data in memory.
package tnef

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Errors returned for malformed streams.
var (
	ErrSignature = errors.New("tnef: bad signature")
	ErrChecksum  = errors.New("tnef: attribute checksum mismatch")
	ErrTruncated = errors.New("tnef: truncated stream")
	ErrNoIndex   = errors.New("tnef: no such attachment")
)

const (
	signature = 0x223E9F78

	levelAttachment = 2

	idAttachRendData = 0x9002 // starts an attachment
	idAttachTitle    = 0x8010 // file name (often 8.3)
	idAttachData     = 0x800F // the file's bytes
	idAttachment     = 0x9005 // MAPI properties (long file name, MIME tag)

	maxSmallAttr = 4 << 20 // attributes read into memory (names, MAPI blocks)
)

// Attachment describes one file inside a TNEF stream.
type Attachment struct {
	Index     int    // 1-based position in the stream; pass to Open
	Name      string // long file name when present, else the title
	Size      int64  // bytes of data
	MediaType string // PR_ATTACH_MIME_TAG, when present
}

// decoder walks attributes, verifying each checksum.
type decoder struct {
	r     *bufio.Reader
	index int // current attachment, 1-based
	sum   uint16
}

type attr struct {
	level  byte
	id     uint16
	length uint32
}

func newDecoder(r io.Reader) (*decoder, error) {
	d := &decoder{r: bufio.NewReader(r)}
	var hdr [6]byte
	if _, err := io.ReadFull(d.r, hdr[:]); err != nil {
		return nil, ErrSignature
	}
	if binary.LittleEndian.Uint32(hdr[:4]) != signature {
		return nil, ErrSignature
	}
	return d, nil
}

// next reads the next attribute header; io.EOF at a clean end.
func (d *decoder) next() (attr, error) {
	var h [9]byte
	n, err := io.ReadFull(d.r, h[:])
	if n == 0 && err == io.EOF {
		return attr{}, io.EOF
	}
	if err != nil {
		return attr{}, ErrTruncated
	}
	a := attr{level: h[0], id: uint16(binary.LittleEndian.Uint32(h[1:5])), length: binary.LittleEndian.Uint32(h[5:9])}
	if a.level == levelAttachment && a.id == idAttachRendData {
		d.index++
	}
	if a.level == levelAttachment && a.id == idAttachData && d.index == 0 {
		d.index = 1
	}
	d.sum = 0
	return a, nil
}

// Read reads attribute data, adding it to the checksum.
func (d *decoder) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	for _, b := range p[:n] {
		d.sum += uint16(b)
	}
	return n, err
}

// end reads and verifies the checksum that follows attribute data.
func (d *decoder) end() error {
	var c [2]byte
	if _, err := io.ReadFull(d.r, c[:]); err != nil {
		return ErrTruncated
	}
	if binary.LittleEndian.Uint16(c[:]) != d.sum {
		return ErrChecksum
	}
	return nil
}

// body reads a small attribute whole, or skips it when it is large.
func (d *decoder) body(a attr) ([]byte, error) {
	if a.length > maxSmallAttr {
		return nil, d.skip(a)
	}
	b := make([]byte, a.length)
	if _, err := io.ReadFull(d, b); err != nil {
		return nil, ErrTruncated
	}
	return b, d.end()
}

func (d *decoder) skip(a attr) error {
	n, err := io.CopyN(io.Discard, d, int64(a.length))
	if err != nil || n != int64(a.length) {
		return ErrTruncated
	}
	return d.end()
}

// List returns the attachments that carry data, reading r to its end.
func List(r io.Reader) ([]Attachment, error) {
	d, err := newDecoder(r)
	if err != nil {
		return nil, err
	}
	var out []Attachment
	cur := func() *Attachment {
		if len(out) == 0 || out[len(out)-1].Index != d.index {
			out = append(out, Attachment{Index: d.index, Size: -1})
		}
		return &out[len(out)-1]
	}
	for {
		a, err := d.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if a.level != levelAttachment || d.index == 0 {
			if err := d.skip(a); err != nil {
				return nil, err
			}
			continue
		}
		if err := d.attachmentAttr(a, cur()); err != nil {
			return nil, err
		}
	}
	var files []Attachment
	for _, at := range out {
		if at.Size >= 0 {
			files = append(files, at)
		}
	}
	return files, nil
}

func (d *decoder) attachmentAttr(a attr, at *Attachment) error {
	switch a.id {
	case idAttachData:
		at.Size = int64(a.length)
		return d.skip(a)
	case idAttachTitle:
		b, err := d.body(a)
		if err != nil {
			return err
		}
		if at.Name == "" {
			at.Name = cString(b)
		}
		return nil
	case idAttachment:
		b, err := d.body(a)
		if err != nil {
			return err
		}
		props := parseProps(b)
		if props.longName != "" {
			at.Name = props.longName
		}
		if props.mimeTag != "" {
			at.MediaType = props.mimeTag
		}
		return nil
	}
	return d.skip(a)
}

// Open reads r up to the data of attachment index and returns a reader of
// exactly its bytes (the checksum is verified when the reader reaches EOF).
func Open(r io.Reader, index int) (io.Reader, int64, error) {
	d, err := newDecoder(r)
	if err != nil {
		return nil, 0, err
	}
	for {
		a, err := d.next()
		if err == io.EOF {
			return nil, 0, fmt.Errorf("%w: %d", ErrNoIndex, index)
		}
		if err != nil {
			return nil, 0, err
		}
		if a.level == levelAttachment && a.id == idAttachData && d.index == index {
			return &dataReader{d: d, left: int64(a.length)}, int64(a.length), nil
		}
		if err := d.skip(a); err != nil {
			return nil, 0, err
		}
	}
}

type dataReader struct {
	d    *decoder
	left int64
	err  error
}

func (r *dataReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.left == 0 {
		r.err = r.d.end()
		if r.err == nil {
			r.err = io.EOF
		}
		return 0, r.err
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.d.Read(p)
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		err = ErrTruncated
	}
	if err != nil && err != io.EOF {
		r.err = err
		return n, err
	}
	return n, nil
}

// cString decodes a NUL-terminated 8-bit string (UTF-8 or Windows-1252).
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(s)
}

func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		v := binary.LittleEndian.Uint16(b[i:])
		if v == 0 {
			break
		}
		u = append(u, v)
	}
	return string(utf16.Decode(u))
}
