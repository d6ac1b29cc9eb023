package history

// Evidence keys: everything that can put two blobs in one document, as
// 64-bit keys a catalog can index. Two nodes (a blob in a workspace) can
// only be grouped by Rebuild if they share a key that is not oversized, or
// a pin names both: so the connected components of "shares a key" are
// independent, and rebuilding each component alone gives exactly the
// documents a rebuild of the whole catalog gives (keys_test.go proves it
// on random catalogs). A key is oversized when more than a cap of nodes
// carry it (a logo-like name seen everywhere, a band of boilerplate text,
// a mailing list's root message): it is then no evidence at all, in every
// rebuild, so it cannot glue unrelated documents into one component.

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"

	"github.com/syncd/syncd/internal/splitmix"
)

// DefaultKeyCap is how many nodes may share an evidence key before it is
// oversized and ignored.
const DefaultKeyCap = 1000

// Key kinds, for explaining a key (see KeyKind).
const (
	KeyName       = "name-family"
	KeyMessage    = "mail-thread"
	KeySharePoint = "sharepoint-item"
	KeyText       = "text-band"
)

// key hashes a kind tag and fields into a key.
func key(kind byte, fields ...string) uint64 {
	h := fnv.New64a()
	h.Write([]byte{kind})
	for _, f := range fields {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return splitmix.Mix(h.Sum64())
}

func nameKey(ws, family string) uint64       { return key('n', ws, family) }
func messageKey(ws, id string) uint64        { return key('m', ws, id) }
func itemKey(ws, source, item string) uint64 { return key('s', ws, source, item) }
func wsSeed(ws string) uint64                { return key('b', ws) }

// bandKeyIn is band i of a signature as a key of workspace seed ws.
func bandKeyIn(seed uint64, sig []uint32, i int) uint64 {
	return splitmix.Mix(bandKey(sig, i) ^ seed)
}

// PinKey is the key a pin puts on the nodes of every blob it names. Pin
// keys are never oversized: a person said so.
func PinKey(id int64) uint64 { return key('p', strconv.FormatInt(id, 10)) }

// PinBlobs lists the blobs a pin names.
func PinBlobs(p Pin) []string { return append([]string{p.Blob}, p.Blobs...) }

// Key is one evidence key with what it stands for (the label explains a
// capped key to a person; only the hash is stored).
type Key struct {
	Hash  uint64
	Kind  string // KeyName, KeyMessage, KeySharePoint
	Label string // the name family, message id or item id
}

// SightingKeys returns the evidence keys one sighting gives its node: its
// non-generic name family, its SharePoint item, and for mail its own,
// parent and embedded message ids. names memoises NameKey (nil: none).
func SightingKeys(s *Sighting, names map[string]nameFamily) []Key {
	var out []Key
	if f := lookupName(names, s.Name); !f.gen {
		out = append(out, Key{nameKey(s.Workspace, f.key), KeyName, f.key})
	}
	return appendPlaceKeys(out, s)
}

// appendPlaceKeys appends the SharePoint item and mail thread keys of s.
func appendPlaceKeys(out []Key, s *Sighting) []Key {
	switch s.Kind {
	case KindSharePoint:
		if s.Lineage.ItemID != "" {
			out = append(out, Key{itemKey(s.Workspace, s.Source, s.Lineage.ItemID), KeySharePoint, s.Source + ": " + s.Lineage.ItemID})
		}
	case KindMail:
		l := &s.Lineage
		if id := normID(l.MessageID); id != "" {
			out = append(out, Key{messageKey(s.Workspace, id), KeyMessage, id})
			for _, lists := range [][]string{l.InReplyTo, l.References, l.InnerMessageIDs} {
				for _, p := range lists {
					if p := normID(p); p != "" {
						out = append(out, Key{messageKey(s.Workspace, p), KeyMessage, p})
					}
				}
			}
		}
	}
	return out
}

// NameMemo is a memo for SightingKeys (NameKey is regular expressions).
type NameMemo = map[string]nameFamily

// NewNameMemo returns an empty memo.
func NewNameMemo() NameMemo { return NameMemo{} }

func lookupName(m map[string]nameFamily, name string) nameFamily {
	if f, ok := m[name]; ok {
		return f
	}
	var f nameFamily
	f.key, f.gen = NameKey(name)
	if m != nil {
		m[name] = f
	}
	return f
}

// TextKeys returns the text-band keys of a blob's sketch in a workspace:
// one per LSH band, nil when the blob has no text.
func TextKeys(ws string, sketch []uint64) []uint64 {
	sig := signature(sketch)
	if sig == nil {
		return nil
	}
	seed := wsSeed(ws)
	out := make([]uint64, lshBands)
	for i := range out {
		out[i] = bandKeyIn(seed, sig, i)
	}
	return out
}

// oversizedKeys lists the keys more than limit nodes carry, and the
// hubs: the nodes (ws + "\x00" + blob) that carry more than limit place
// keys (a logo in every message). limit <= 0 is DefaultKeyCap. They are
// what a rebuild of the whole input treats as no evidence; a catalog that
// rebuilds one component at a time reads the same sets from its index.
func (g *graph) oversizedKeys(limit int) (map[uint64]bool, map[string]bool) {
	if limit <= 0 {
		limit = DefaultKeyCap
	}
	count := map[uint64]int{}
	hubs := map[string]bool{}
	for _, n := range g.nodes {
		place, text := g.nodeKeys(n)
		for _, k := range place {
			count[k]++
		}
		for _, k := range text {
			count[k]++
		}
		if len(place) > limit {
			hubs[n.ws+"\x00"+n.blob] = true
		}
	}
	out := map[uint64]bool{}
	for k, c := range count {
		if c > limit {
			out[k] = true
		}
	}
	return out, hubs
}

// nodeKeys is the set of place keys and the set of text keys of a node.
func (g *graph) nodeKeys(n *node) (place, text []uint64) {
	seen := map[uint64]bool{}
	add := func(out []uint64, k uint64) []uint64 {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
		return out
	}
	for _, k := range n.keys {
		place = add(place, nameKey(n.ws, k))
	}
	var buf []Key
	for _, s := range n.sightings {
		buf = appendPlaceKeys(buf[:0], s)
		for _, k := range buf {
			place = add(place, k.Hash)
		}
	}
	if n.sig != nil {
		seed := wsSeed(n.ws)
		for i := range lshBands {
			text = add(text, bandKeyIn(seed, n.sig, i))
		}
	}
	return place, text
}
