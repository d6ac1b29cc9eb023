package history_test

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/history/internal/synth"
)

// groupingF1 is the pairwise F1 of the grouping of blobs into documents
// against the generator's truth (pairs counted per document, so it is
// linear in the input).
func groupingF1(res history.Result, truth synth.Truth) float64 {
	pairs := func(groups map[[2]int]int) int {
		n := 0
		for _, c := range groups {
			n += c * (c - 1) / 2
		}
		return n
	}
	found, want, both := map[[2]int]int{}, map[[2]int]int{}, map[[2]int]int{}
	seen := map[string]bool{}
	for i, d := range res.Documents {
		for _, v := range d.Versions {
			if seen[d.Workspace+v.Blob] {
				continue
			}
			seen[d.Workspace+v.Blob] = true
			found[[2]int{i, 0}]++
			want[[2]int{truth[v.Blob], 0}]++
			both[[2]int{i, truth[v.Blob]}]++
		}
	}
	tp, fp, fn := pairs(both), pairs(found), pairs(want)
	if fp+fn == 0 {
		return 1
	}
	return 2 * float64(tp) / float64(fp+fn)
}

// edgeF1 is the F1 of the parent edges (between blobs, reverts folded
// into their blob) against the generator's true parents.
func edgeF1(res history.Result, parents synth.Parents) float64 {
	found := map[[2]string]bool{}
	for _, d := range res.Documents {
		blobOf := map[string]string{}
		for _, v := range d.Versions {
			blobOf[v.Key] = v.Blob
		}
		for _, v := range d.Versions {
			for _, p := range v.Parents {
				if pb := blobOf[p.Parent]; pb != v.Blob {
					found[[2]string{pb, v.Blob}] = true
				}
			}
		}
	}
	tp := 0
	for e := range found {
		if parents[e[1]] == e[0] {
			tp++
		}
	}
	if len(found)+len(parents) == 0 {
		return 1
	}
	return 2 * float64(tp) / float64(len(found)+len(parents))
}

func BenchmarkRebuild(b *testing.B) {
	for _, docs := range []int{2000, 20000} {
		in, _ := synth.Generate(synth.Config{Seed: 1, Docs: docs})
		b.Run(fmt.Sprintf("docs=%d/sightings=%d", docs, len(in.Sightings)), func(b *testing.B) {
			for b.Loop() {
				history.Rebuild(in)
			}
		})
	}
}

// TestScale rebuilds a large synthetic corpus and reports time and grouping
// quality. SYNTH_DOCS sets the size (default 1000); SYNTH_LOGOS adds
// signature images to a third of the messages.
func TestScale(t *testing.T) {
	docs := 1000
	if s := os.Getenv("SYNTH_DOCS"); s != "" {
		docs, _ = strconv.Atoi(s)
	}
	in, truth, parents := synth.GenerateWithParents(synth.Config{Seed: 7, Docs: docs, Logos: os.Getenv("SYNTH_LOGOS") != ""})
	start, cpu := time.Now(), cpuTime()
	res := history.Rebuild(in)
	el, elCPU := time.Since(start), cpuTime()-cpu
	f1, ef1 := groupingF1(res, truth), edgeF1(res, parents)
	t.Logf("%d docs, %d sightings, %d blobs: %d documents in %v (CPU %v), grouping F1 %.4f, edge F1 %.4f", docs,
		len(in.Sightings), len(in.Contents), len(res.Documents), el.Round(time.Millisecond), elCPU.Round(time.Millisecond), f1, ef1)
	if f1 < 0.95 || ef1 < 0.85 {
		t.Errorf("grouping F1 %.4f < 0.95 or edge F1 %.4f < 0.85", f1, ef1)
	}
}

// cpuTime is the CPU time this process used so far (the machine may be
// shared, so wall time alone says little).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
