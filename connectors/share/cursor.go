package share

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/syncd/syncd/connectors"
)

// The cursor is the set of files seen, each as the first 8 bytes of
// SHA-256(path, size, modtime): 8 bytes a file whatever its path length
// (10,000 files make ~110 KB of JSON). A file whose key is in the set is
// unchanged; any change of path, size or modtime gives a new key.
// 64-bit keys collide with probability ~n²/2⁶⁵: negligible for millions.
//
// Version 2 adds the paths listed, NUL-separated and gzipped (sorted
// listings compress to a few bytes a file), so a later scan names the
// files that are gone. A version 1 cursor is read as having no paths: the
// next scan lists everything as present and finds nothing gone.
type cursorJSON struct {
	V     int    `json:"v"`
	N     int    `json:"n"`
	Keys  string `json:"keys"`            // base64 of sorted big-endian uint64s
	Paths []byte `json:"paths,omitempty"` // gzip of the refs listed, each followed by NUL
}

const cursorVersion = 2

type keySet map[uint64]struct{}

// state is a decoded cursor.
type state struct {
	keys  keySet
	paths []byte // gzipped path list; nil when unknown (version 1, or none)
}

func fileKey(remote string, size int64, mt time.Time) uint64 {
	h := sha256.New()
	h.Write([]byte(remote))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, size, 10))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, mt.UnixNano(), 10))
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])
}

// pathKey identifies a listed path whatever its size and modtime.
func pathKey(ref connectors.Ref) uint64 {
	h := sha256.Sum256([]byte(ref))
	return binary.BigEndian.Uint64(h[:8])
}

func decodeCursor(c connectors.Cursor) (state, error) {
	if len(c) == 0 {
		return state{keys: keySet{}}, nil
	}
	var cj cursorJSON
	if err := json.Unmarshal(c, &cj); err != nil {
		return state{}, fmt.Errorf("bad cursor: %w", err)
	}
	if cj.V != 1 && cj.V != cursorVersion {
		return state{}, fmt.Errorf("bad cursor: version %d, want %d", cj.V, cursorVersion)
	}
	raw, err := base64.StdEncoding.DecodeString(cj.Keys)
	if err != nil || len(raw)%8 != 0 || len(raw)/8 != cj.N {
		return state{}, fmt.Errorf("bad cursor: key list corrupt")
	}
	ks := make(keySet, cj.N)
	for i := 0; i < len(raw); i += 8 {
		ks[binary.BigEndian.Uint64(raw[i:])] = struct{}{}
	}
	return state{keys: ks, paths: cj.Paths}, nil
}

// encodeCursor encodes the union of the key sets with a path list.
func encodeCursor(paths []byte, sets ...keySet) connectors.Cursor {
	n := 0
	for _, s := range sets {
		n += len(s)
	}
	keys := make([]uint64, 0, n)
	for _, s := range sets {
		for k := range s {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	raw := make([]byte, 8*len(keys))
	for i, k := range keys {
		binary.BigEndian.PutUint64(raw[8*i:], k)
	}
	b, _ := json.Marshal(cursorJSON{V: cursorVersion, N: len(keys), Keys: base64.StdEncoding.EncodeToString(raw), Paths: paths})
	return b
}

// sortedPaths is the gzipped, sorted, NUL-terminated list of refs.
func sortedPaths(refs []connectors.Ref) []byte {
	slices.Sort(refs)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	bw := bufio.NewWriter(zw)
	for _, r := range slices.Compact(refs) {
		bw.WriteString(string(r))
		bw.WriteByte(0)
	}
	bw.Flush()
	zw.Close()
	return buf.Bytes()
}

// eachPath calls fn for every path of a cursor's list, in order.
func eachPath(paths []byte, fn func(connectors.Ref) error) error {
	if len(paths) == 0 {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(paths))
	if err != nil {
		return fmt.Errorf("bad cursor: path list: %w", err)
	}
	br := bufio.NewReader(zr)
	for {
		p, err := br.ReadString(0)
		if err == io.EOF && p == "" {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bad cursor: path list: %w", err)
		}
		if err := fn(connectors.Ref(p[:len(p)-1])); err != nil {
			return err
		}
	}
}
