// Command benchrun is the benchmark behind bench/run: it generates a
// workload, serves it from real servers on loopback, times syncd and the
// tools people use today on the same data, and writes one table of
// ratios (syncd / peer). See docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// options are benchrun's flags.
type options struct {
	syncd     string
	out       string
	work      string
	scale     float64
	reps      int
	bigSize   int64
	sightings int
	scaleReps int
	scaleOps  string
	limit     time.Duration
	sections  string
	keep      bool
	docs      string
	// web section: timed requests per row, requests at a time
	webRequests int
	webWorkers  int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "hash": // hidden: one hashing pass, timed by the parent
			return hashMain(args[1:], stdout, stderr)
		case "profile": // hidden: syncd's sync in-process under pprof
			return profileMain(ctx, args[1:], stderr)
		case "serve": // hidden: the servers alone, for profiling by hand
			return serveMain(ctx, args[1:], stdout, stderr)
		case "generate": // hidden: the workload alone
			return generateMain(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.syncd, "syncd", "", "syncd `binary` to measure (required)")
	fs.StringVar(&o.out, "out", "bench/out", "results `dir` (results.md, results.json, raw logs)")
	fs.StringVar(&o.work, "work", "", "scratch `dir` for the workload and stores (default: a new temp dir, removed at the end)")
	fs.Float64Var(&o.scale, "scale", 1, "workload size factor (1: about 10 minutes on 2 cores)")
	fs.IntVar(&o.reps, "reps", 3, "runs of each command")
	big := fs.Int64("big-mb", 1024, "size of the large attachment and the large file, MiB")
	fs.IntVar(&o.sightings, "sightings", 1_000_000, "sightings in the store-scale catalog")
	fs.IntVar(&o.scaleReps, "scale-reps", 1, "runs of each store-scale command (each takes minutes at 1M sightings)")
	fs.StringVar(&o.scaleOps, "scale-ops", "sync,postgres,touch,daemon,plan,report,export,verify", "store-scale commands to run (sync: the full rebuild; postgres: the store copied into PostgreSQL, a full rebuild there beside SQLite's; touch: a sync touching 1% of documents; daemon: a daemon run after another touch, and its size once idle; report: the report of the import run, an item per sighting)")
	fs.DurationVar(&o.limit, "limit", 5*time.Minute, "time limit of each timed command (store-scale commands: twice that)")
	fs.StringVar(&o.sections, "sections", "imap,many,thousand,share,wanshare,hash,big,scale,cluster", "comma-separated sections to run")
	fs.IntVar(&o.webRequests, "web-requests", 1000, "web section: timed requests of each row after a tenth as many to warm up (the 10 MiB checks: a fifth as many)")
	fs.IntVar(&o.webWorkers, "web-workers", 4, "web section: requests at a time (keep-alive connections)")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch dir")
	fs.StringVar(&o.docs, "docs", "", "also put the table into this Markdown `file`, between its results markers")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.bigSize = *big << 20
	if o.syncd == "" || o.reps < 1 || o.scale <= 0 {
		fmt.Fprintln(stderr, "benchrun: -syncd is required; -reps >= 1; -scale > 0")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := newBench(o, log)
	if err != nil {
		fmt.Fprintln(stderr, "benchrun:", err)
		return 1
	}
	defer b.cleanup()
	if err := b.runAll(ctx); err != nil {
		fmt.Fprintln(stderr, "benchrun:", err)
		return 1
	}
	command := strings.Join(os.Args, " ")
	if c := os.Getenv("BENCHRUN_COMMAND"); c != "" { // set by bench/run
		command = strings.TrimSpace(c)
	}
	if err := b.write(stdout, command); err != nil {
		fmt.Fprintln(stderr, "benchrun:", err)
		return 1
	}
	return 0
}

func (b *bench) runAll(ctx context.Context) error {
	want := map[string]bool{}
	for _, s := range strings.Split(b.o.sections, ",") {
		want[strings.TrimSpace(s)] = true
	}
	if want["imap"] || want["share"] || want["wanshare"] || want["cluster"] {
		if err := b.generate(); err != nil {
			return err
		}
	}
	sections := []struct {
		name string
		fn   func(context.Context) error
	}{{"imap", b.imap}, {"many", b.many}, {"thousand", b.thousand}, {"share", b.share}, {"wanshare", b.wanShare}, {"hash", b.hashing}, {"big", b.big}, {"scale", b.scale}, {"cluster", b.cluster}, {"web", b.web}}
	for _, s := range sections {
		if !want[s.name] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		b.load = append(b.load, s.name+" "+loadAvg())
		b.log.Info("section started", "section", s.name)
		if err := s.fn(ctx); err != nil {
			// One failed section never stops the others; it is in the table.
			b.log.Error("section failed", "section", s.name, "err", err)
			b.fail(s.name, err)
		}
		b.log.Info("section finished", "section", s.name, "took", time.Since(start).Round(time.Second))
	}
	return nil
}

// loadAvg is the 1, 5 and 15 minute load averages: the machine is shared,
// so every table says how busy it was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
