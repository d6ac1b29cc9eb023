package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/workload"
	"github.com/syncd/syncd/dedupe"
)

// hashMain is the hidden `benchrun hash -impl syncd|sha256 FILE`: one pass
// over FILE with syncd's hasher (dedupe.Hasher: SHA-256 and QuickXor, as
// every Put computes) or with crypto/sha256 alone on one core.
func hashMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchrun hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "syncd", "syncd or sha256")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: benchrun hash -impl syncd|sha256 FILE")
		return 2
	}
	var h hash.Hash
	var w io.Writer
	switch *impl {
	case "sha256":
		runtime.GOMAXPROCS(1)
		h = sha256.New()
		w = h
	case "syncd":
		w = dedupe.NewHasher()
	default:
		fmt.Fprintf(stderr, "benchrun hash: unknown -impl %q\n", *impl)
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "benchrun hash:", err)
		return 1
	}
	defer f.Close()
	start := time.Now()
	n, err := io.CopyBuffer(w, f, make([]byte, 1<<20))
	if err != nil {
		fmt.Fprintln(stderr, "benchrun hash:", err)
		return 1
	}
	if h != nil {
		fmt.Fprintf(stdout, "%x %d %.0f\n", h.Sum(nil), n, float64(n)/time.Since(start).Seconds())
	} else {
		fmt.Fprintf(stdout, "%s %d %.0f\n", w.(*dedupe.Hasher).Sums().ID, n, float64(n)/time.Since(start).Seconds())
	}
	return 0
}

// bigFile writes (once) the large file the hashing and memory sections
// share.
func (b *bench) bigFile() (dir, path string, err error) {
	dir = b.path("bigfile")
	path = b.path("bigfile", "Site Survey Full.mp4")
	if fi, err := os.Stat(path); err == nil && fi.Size() == b.o.bigSize {
		return dir, path, nil
	}
	start := time.Now()
	path, err = workload.BigFile(dir, "Site Survey Full.mp4", b.o.bigSize)
	if err == nil {
		b.log.Info("large file written", "size", human(b.o.bigSize), "took", time.Since(start).Round(time.Second))
	}
	return dir, path, err
}

// hashing times syncd's hasher against crypto/sha256 on one core over the
// same bytes (the large file, read from the page cache by both).
func (b *bench) hashing(ctx context.Context) error {
	_, path, err := b.bigFile()
	if err != nil {
		return err
	}
	rate := map[string]string{}
	keep := func(k string) func(string) {
		return func(out string) {
			var sum string
			var n int64
			var r float64
			fmt.Sscan(out, &sum, &n, &r)
			rate[k] = fmt.Sprintf("%.0f MB/s", r/1e6)
		}
	}
	warm := func() error { return readAll(path) } // both read from the page cache
	steps := []step{
		{key: "syncd", setup: warm, cmd: measure.Cmd{Name: "hash syncd", Args: []string{b.self, "hash", "-impl", "syncd", path}}, after: keep("syncd")},
		{key: "sha256", cmd: measure.Cmd{Name: "hash sha256", Args: []string{b.self, "hash", "-impl", "sha256", path}}, after: keep("sha256")},
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	r := row("hashing", fmt.Sprintf("dedupe.Hasher (SHA-256 + QuickXor) over %s", human(b.o.bigSize)), "crypto/sha256, one core", s, errs, "syncd", "sha256",
		results.WallAtMost(1/0.9, ">= 90% of sha256 throughput"))
	r.Note = fmt.Sprintf("throughput (last run): syncd hasher %s, crypto/sha256 one core %s", rate["syncd"], rate["sha256"])
	b.add(r)
	return nil
}

// readAll reads a file once, untimed, so that the timed reads find it in
// the page cache.
func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}
