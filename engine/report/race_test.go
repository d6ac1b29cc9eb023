//go:build race

package report_test

// raceEnabled: the race detector slows the SQLite library (Go code here) about tenfold.
const raceEnabled = true
