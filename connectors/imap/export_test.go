package imap

import "time"

// KeepSessionsFor sets how long sessions are kept, for the test that
// calls it.
func KeepSessionsFor(t interface{ Cleanup(func()) }, d time.Duration) {
	old := sessionTTL
	sessionTTL = d
	t.Cleanup(func() { sessionTTL = old })
}
