//go:build !race

package histdb_test

const raceEnabled = false
