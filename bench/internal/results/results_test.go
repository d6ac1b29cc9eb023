package results

import (
	"strings"
	"testing"

	"github.com/syncd/syncd/bench/internal/measure"
)

func sum(wall, cpu, rss float64) measure.Summary {
	return measure.Summary{N: 3, Wall: measure.Stat{Median: wall, Min: wall, Max: wall}, CPU: measure.Stat{Median: cpu, Min: cpu, Max: cpu},
		MaxRSS: measure.Stat{Median: rss, Min: rss, Max: rss}}
}

func TestTargetsAndTable(t *testing.T) {
	peer := sum(10, 4, 100<<20)
	fast := Row{Section: "IMAP", Name: "sync", Syncd: sum(4, 2, 50<<20), Peer: "mbsync | ripmime", PeerSum: &peer, Target: WallAtMost(0.5, ">= 2x faster")}
	slow := fast
	slow.Syncd = sum(6, 2, 50<<20)
	mem := Row{Section: "large", Name: "1 GB", Syncd: sum(5, 3, 120<<20), Target: RSSUnder(100<<20, "< 100 MB")}
	failed := fast
	failed.Err = "time limit reached"
	if fast.Met() != "yes" || slow.Met() != "no" || mem.Met() != "no" || failed.Met() != "no" {
		t.Fatalf("met: fast %s slow %s mem %s failed %s", fast.Met(), slow.Met(), mem.Met(), failed.Met())
	}
	if r := fast.WallRatio(); r != 0.4 {
		t.Fatalf("wall ratio %v", r)
	}
	var b strings.Builder
	Write(&b, []Row{fast, mem})
	out := b.String()
	for _, want := range []string{"| 0.40x |", "mbsync \\| ripmime", "| 120 (120–120) |", "| yes |"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
}
