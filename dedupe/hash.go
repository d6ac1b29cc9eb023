package dedupe

import (
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"

	"github.com/rclone/rclone/backend/onedrive/quickxorhash"
)

// Sums are the hashes syncd keeps for every blob: SHA-256 is the identity;
// QuickXor (Microsoft's quickXorHash, base64) lets SharePoint and OneDrive
// items be recognised without downloading them.
type Sums struct {
	ID       ID
	Size     int64
	QuickXor string
}

// Hasher computes Sums over everything written to it.
type Hasher struct {
	sha hash.Hash
	qx  hash.Hash
	n   int64
}

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher {
	return &Hasher{sha: sha256.New(), qx: quickxorhash.New()}
}

// Write never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	h.sha.Write(p)
	h.qx.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// Sums returns the hashes of what was written so far.
func (h *Hasher) Sums() Sums {
	var s Sums
	h.sha.Sum(s.ID[:0])
	s.Size = h.n
	s.QuickXor = base64.StdEncoding.EncodeToString(h.qx.Sum(nil))
	return s
}

// HashReader reads r to its end and returns its Sums.
func HashReader(r io.Reader) (Sums, error) {
	h := NewHasher()
	_, err := io.Copy(h, r)
	return h.Sums(), err
}
