package tnef

import "encoding/binary"

// MAPI property types and ids used here ([MS-OXCDATA] 2.11.1, [MS-OXPROPS]).
const (
	ptString8 = 0x001E
	ptUnicode = 0x001F
	ptBinary  = 0x0102
	ptObject  = 0x000D
	ptMV      = 0x1000

	prAttachLongFilename = 0x3707
	prAttachFilename     = 0x3704
	prAttachMimeTag      = 0x370E
)

type props struct {
	longName string
	mimeTag  string
}

// fixedSize is the encoded size of a single fixed-length value, padded to
// 4 bytes as TNEF writes it; -1 for variable-length types.
func fixedSize(t uint16) int {
	switch t {
	case 0x0001, 0x0002, 0x0003, 0x0004, 0x000A, 0x000B: // null, short, long, float, error, boolean
		return 4
	case 0x0005, 0x0006, 0x0007, 0x0014, 0x0040: // double, currency, apptime, i8, systime
		return 8
	case 0x0048: // clsid
		return 16
	}
	return -1
}

// parseProps reads an attAttachment MAPI property block and keeps the
// properties that name the file. It stops quietly at anything malformed.
func parseProps(b []byte) props {
	var p props
	r := &byteReader{b: b}
	count, ok := r.u32()
	if !ok {
		return p
	}
	for i := uint32(0); i < count && r.ok(); i++ {
		typ, ok1 := r.u16()
		id, ok2 := r.u16()
		if !ok1 || !ok2 || !r.skipName(id) {
			return p
		}
		vals, ok := r.values(typ)
		if !ok {
			return p
		}
		if len(vals) == 0 {
			continue
		}
		s := ""
		switch typ &^ ptMV {
		case ptString8:
			s = cString(vals[0])
		case ptUnicode:
			s = utf16String(vals[0])
		default:
			continue
		}
		switch id {
		case prAttachLongFilename:
			p.longName = s
		case prAttachFilename:
			if p.longName == "" {
				p.longName = s
			}
		case prAttachMimeTag:
			p.mimeTag = s
		}
	}
	return p
}

type byteReader struct {
	b   []byte
	off int
	bad bool
}

func (r *byteReader) ok() bool { return !r.bad && r.off < len(r.b) }

func (r *byteReader) take(n int) ([]byte, bool) {
	if r.bad || n < 0 || n > len(r.b)-r.off {
		r.bad = true
		return nil, false
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out, true
}

func (r *byteReader) u16() (uint16, bool) {
	b, ok := r.take(2)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b), true
}

func (r *byteReader) u32() (uint32, bool) {
	b, ok := r.take(4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// skipName skips the GUID and name of a named property (id >= 0x8000).
func (r *byteReader) skipName(id uint16) bool {
	if id < 0x8000 {
		return true
	}
	if _, ok := r.take(16); !ok {
		return false
	}
	kind, ok := r.u32()
	if !ok {
		return false
	}
	n, ok := r.u32()
	if !ok {
		return false
	}
	if kind == 0 {
		return true // n was the numeric id
	}
	_, ok = r.take(pad4(n))
	return ok
}

func pad4(n uint32) int {
	if n > 1<<30 {
		return -1
	}
	return int((n + 3) &^ 3)
}

// values reads one property's value(s).
func (r *byteReader) values(typ uint16) ([][]byte, bool) {
	base := typ &^ ptMV
	if fs := fixedSize(base); fs > 0 {
		n := uint32(1)
		if typ&ptMV != 0 {
			var ok bool
			if n, ok = r.u32(); !ok || n > uint32(len(r.b)) {
				return nil, false
			}
		}
		_, ok := r.take(int(n) * fs)
		return nil, ok
	}
	switch base {
	case ptString8, ptUnicode, ptBinary, ptObject:
	default:
		return nil, false // unknown type: cannot know its length
	}
	n, ok := r.u32()
	if !ok || n > uint32(len(r.b)) {
		return nil, false
	}
	var out [][]byte
	for j := uint32(0); j < n; j++ {
		l, ok := r.u32()
		if !ok {
			return nil, false
		}
		v, ok := r.take(pad4(l))
		if !ok {
			return nil, false
		}
		out = append(out, v[:l])
	}
	return out, true
}
