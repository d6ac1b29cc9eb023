package share

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
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
type cursorJSON struct {
	V    int    `json:"v"`
	N    int    `json:"n"`
	Keys string `json:"keys"` // base64 of sorted big-endian uint64s
}

const cursorVersion = 1

type keySet map[uint64]struct{}

func fileKey(remote string, size int64, mt time.Time) uint64 {
	h := sha256.New()
	h.Write([]byte(remote))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, size, 10))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, mt.UnixNano(), 10))
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])
}

func decodeCursor(c connectors.Cursor) (keySet, error) {
	if len(c) == 0 {
		return keySet{}, nil
	}
	var cj cursorJSON
	if err := json.Unmarshal(c, &cj); err != nil {
		return nil, fmt.Errorf("bad cursor: %w", err)
	}
	if cj.V != cursorVersion {
		return nil, fmt.Errorf("bad cursor: version %d, want %d", cj.V, cursorVersion)
	}
	raw, err := base64.StdEncoding.DecodeString(cj.Keys)
	if err != nil || len(raw)%8 != 0 || len(raw)/8 != cj.N {
		return nil, fmt.Errorf("bad cursor: key list corrupt")
	}
	ks := make(keySet, cj.N)
	for i := 0; i < len(raw); i += 8 {
		ks[binary.BigEndian.Uint64(raw[i:])] = struct{}{}
	}
	return ks, nil
}

// encodeCursor encodes the union of the sets.
func encodeCursor(sets ...keySet) connectors.Cursor {
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
	b, _ := json.Marshal(cursorJSON{V: cursorVersion, N: len(keys), Keys: base64.StdEncoding.EncodeToString(raw)})
	return b
}
