package scheduler

import (
	"testing"
	"time"
)

func TestDefaultJitterBounds(t *testing.T) {
	const max = 3 * time.Second
	var lo, hi time.Duration = max, 0
	for range 2000 {
		d := defaultJitter(max)
		if d < 0 || d >= max {
			t.Fatalf("jitter %v outside [0, %v)", d, max)
		}
		lo, hi = min(lo, d), max2(hi, d)
	}
	if hi-lo < max/2 {
		t.Errorf("jitter spread %v..%v: not random over the range", lo, hi)
	}
	if defaultJitter(0) != 0 {
		t.Error("zero max must give zero jitter")
	}
}

func max2(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
