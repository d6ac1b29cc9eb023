package imap

import (
	"time"

	"github.com/syncd/syncd/connectors"
)

// KeepSessionsFor sets how long sessions are kept, for the test that
// calls it.
func KeepSessionsFor(t interface{ Cleanup(func()) }, d time.Duration) {
	old := sessionTTL
	sessionTTL = d
	t.Cleanup(func() { sessionTTL = old })
}

// Prefetched reports whether it carries its part's bytes, fetched with
// its batch (Open has not taken them yet).
func Prefetched(it *connectors.Item) bool {
	info, _ := it.Private.(*openInfo)
	if info == nil {
		return false
	}
	info.mu.Lock()
	defer info.mu.Unlock()
	return info.data != nil
}
