package engine

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/syncd/syncd/engine/history"
)

// stableDocKey names a document by its oldest first version: the parentless
// version with the earliest time (then the smallest content id). Unlike the
// order sightings were committed in — which varies with parallel downloads
// and with where a crashed run resumed — this depends only on the history
// itself, so an interrupted and an uninterrupted sync store the same keys.
func stableDocKey(d history.Document) string {
	var root *history.Version
	for i := range d.Versions {
		v := &d.Versions[i]
		if len(v.Parents) > 0 {
			continue
		}
		if root == nil || v.Time.Before(root.Time) || (v.Time.Equal(root.Time) && v.Blob < root.Blob) {
			root = v
		}
	}
	if root == nil {
		return d.Key // a cycle pinned by a person: keep history's key
	}
	sum := sha256.Sum256([]byte(d.Workspace + "\x00" + root.Blob))
	return "d-" + hex.EncodeToString(sum[:8])
}
