//go:build race

package histdb_test

// raceEnabled: the race detector slows these tests five to ten times.
const raceEnabled = true
