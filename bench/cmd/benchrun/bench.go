package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/workload"
)

// bench holds one benchmark run's state.
type bench struct {
	o       options
	log     *slog.Logger
	self    string // this binary (for the hidden hash command)
	work    string
	tempDir bool
	wl      *workload.Workload
	rows    []results.Row
	facts   []string // what the workload and the tools did, for the notes
	started time.Time
	load    []string // load averages seen at the start of each section
	// serverPID, when set, is a server whose CPU time each step's
	// repetitions record in serverCPU (seconds, by step key).
	serverPID int
	serverCPU map[string][]float64
}

func newBench(o options, log *slog.Logger) (*bench, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	o.syncd = abs(o.syncd)
	if _, err := os.Stat(o.syncd); err != nil {
		return nil, fmt.Errorf("syncd binary: %w", err)
	}
	b := &bench{o: o, log: log, self: self, started: time.Now()}
	if o.work == "" {
		if b.work, err = os.MkdirTemp("", "syncd-bench-"); err != nil {
			return nil, err
		}
		b.tempDir = true
	} else {
		b.work = abs(o.work)
	}
	trash.dir = filepath.Join(b.work, "trash")
	os.RemoveAll(trash.dir) // left by an interrupted run
	// smbd reads the share as user nobody: keep the scratch dir open.
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(b.work, 0o755); err != nil {
		return nil, err
	}
	return b, os.MkdirAll(o.out, 0o755)
}

func (b *bench) cleanup() {
	os.RemoveAll(trash.dir)
	if b.tempDir && !b.o.keep {
		os.RemoveAll(b.work)
	}
}

func (b *bench) path(parts ...string) string {
	return filepath.Join(append([]string{b.work}, parts...)...)
}

func (b *bench) fact(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	b.facts = append(b.facts, s)
	b.log.Info(s)
}

func (b *bench) fail(section string, err error) {
	b.rows = append(b.rows, results.Row{Section: section, Name: "section", Err: oneLine(err.Error(), 200)})
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// step is one timed command of a repetition, with the setup that runs
// (untimed) before it.
type step struct {
	key   string
	setup func() error
	cmd   measure.Cmd
	// run, if set, is timed instead of cmd (and measures itself).
	run   func(context.Context) (measure.Sample, error)
	after func(stdout string) // sees the command's output (last repetition)
}

// repeat runs the steps in order, reps times, so that noise spreads over
// every tool alike. A failed step is recorded and left out of later
// repetitions; the others go on.
func (b *bench) repeat(ctx context.Context, reps int, steps []step) (map[string][]measure.Sample, map[string]error) {
	samples := map[string][]measure.Sample{}
	errs := map[string]error{}
	for rep := range reps {
		for _, s := range steps {
			if errs[s.key] != nil || ctx.Err() != nil {
				continue
			}
			if s.setup != nil {
				if err := s.setup(); err != nil {
					errs[s.key] = fmt.Errorf("setup: %w", err)
					continue
				}
			}
			// Write back what earlier commands left in the page cache, so
			// that no command waits for another's data (syncd syncs its
			// own blobs; rclone and cp leave theirs dirty).
			unix.Sync()
			c := s.cmd
			if c.Limit == 0 {
				c.Limit = b.o.limit
			}
			var out bytes.Buffer
			if s.after != nil {
				c.Stdout = &out
			}
			before, _ := b.server()
			var sm measure.Sample
			var err error
			if s.run != nil {
				sm, err = s.run(ctx)
			} else {
				sm, err = measure.Run(ctx, c)
			}
			if after, ok := b.server(); ok && err == nil {
				b.serverCPU[s.key] = append(b.serverCPU[s.key], after-before)
			}
			if err != nil {
				errs[s.key] = err
				b.log.Error("step failed", "step", s.key, "rep", rep+1, "err", oneLine(err.Error(), 600))
				continue
			}
			samples[s.key] = append(samples[s.key], sm)
			b.log.Info("step", "step", s.key, "rep", rep+1, "wall", sm.Wall.Round(time.Millisecond), "cpu", sm.CPU.Round(time.Millisecond), "rss_mb", sm.MaxRSS>>20)
			if s.after != nil && rep == reps-1 {
				s.after(out.String())
			}
		}
	}
	return samples, errs
}

// server reads the CPU seconds of the watched server so far.
func (b *bench) server() (float64, bool) {
	if b.serverPID == 0 {
		return 0, false
	}
	v, err := procCPU(b.serverPID)
	return v, err == nil
}

// watch makes repeat record pid's CPU time per step (0: stop).
func (b *bench) watch(pid int) {
	b.serverPID = pid
	b.serverCPU = map[string][]float64{}
}

// row builds a comparison row from repeat's results.
func row(section, name, peer string, samples map[string][]measure.Sample, errs map[string]error, sk, pk string, t results.Target) results.Row {
	r := results.Row{Section: section, Name: name, Peer: peer, Target: t, Syncd: measure.Summarise(samples[sk])}
	if pk != "" {
		ps := measure.Summarise(samples[pk])
		r.PeerSum = &ps
	}
	var msgs []string
	for _, k := range []string{sk, pk} {
		if k != "" && errs[k] != nil {
			msgs = append(msgs, k+": "+oneLine(errs[k].Error(), 160))
		}
	}
	r.Err = strings.Join(msgs, "; ")
	return r
}

func (b *bench) add(r results.Row) { b.rows = append(b.rows, r) }

// syncdCmd is a syncd invocation.
func (b *bench) syncdCmd(key string, env []string, args ...string) measure.Cmd {
	return measure.Cmd{Name: key, Args: append([]string{b.o.syncd}, args...), Env: env}
}

// resetDir clears dirs before a timed command by moving them aside into
// the trash, which is emptied when the benchmark ends. Deleting them there
// and then would time the file system rather than the tools: ext4 skips
// recently freed inodes when it allocates new ones, and on this machine
// creating files right after deleting a few hundred costs every tool
// (syncd, rclone, cp) 2-3 times the CPU in the kernel.
func resetDir(dirs ...string) func() error {
	return func() error {
		for _, d := range dirs {
			if err := moveAside(d); err != nil {
				return err
			}
		}
		return nil
	}
}

// removeDirs deletes dirs before a timed command, for the large-item
// rows: a few huge files, whose copies would fill the disk if kept, and
// whose timing no inode allocation affects.
func removeDirs(dirs ...string) func() error {
	return func() error {
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		}
		return nil
	}
}

// trash is where resetDir moves outputs, under the scratch directory (the
// same file system, so a move is a rename).
var trash struct {
	dir string
	n   int
}

func moveAside(d string) error {
	if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if trash.dir == "" {
		return os.RemoveAll(d)
	}
	if err := os.MkdirAll(trash.dir, 0o755); err != nil {
		return err
	}
	trash.n++
	return os.Rename(d, filepath.Join(trash.dir, strconv.Itoa(trash.n)))
}

// write prints the table and writes results.md and results.json.
func (b *bench) write(stdout io.Writer, command string) error {
	var md bytes.Buffer
	fmt.Fprintf(&md, "## Results\n\nCommand: `%s`\n\n", command)
	fmt.Fprintf(&md, "Machine: %s\n\n", machine())
	fmt.Fprintf(&md, "Run: %s, %d runs of each command, workload scale %g, took %s. Each cell: median (min–max). Ratios are syncd / peer, medians.\n\n",
		b.started.UTC().Format(time.RFC3339), b.o.reps, b.o.scale, time.Since(b.started).Round(time.Second))
	fmt.Fprintf(&md, "Load average (1, 5, 15 min) when each section started: %s; at the end: %s.\n\n", strings.Join(b.load, "; "), loadAvg())
	results.Write(&md, b.rows)
	if len(b.facts) > 0 {
		fmt.Fprintln(&md, "\nWorkload and outputs:")
		for _, f := range b.facts {
			fmt.Fprintln(&md, "- "+f)
		}
	}
	if _, err := stdout.Write(md.Bytes()); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.o.out, "results.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	if b.o.docs != "" {
		if err := spliceDocs(b.o.docs, md.String()); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(b.rows, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.o.out, "results.json"), js, 0o644)
}

// Markers around the generated part of docs/benchmarks.md.
const (
	beginMarker = "<!-- bench/run results: begin -->"
	endMarker   = "<!-- bench/run results: end -->"
)

// spliceDocs replaces what lies between the markers of file with text.
func spliceDocs(file, text string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	doc := string(b)
	i, j := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %q ... %q markers", file, beginMarker, endMarker)
	}
	doc = doc[:i+len(beginMarker)] + "\n" + text + "\n" + doc[j:]
	return os.WriteFile(file, []byte(doc), 0o644)
}

// machine describes the host: CPU model, cores, memory, kernel, tools.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	kernel, _ := exec.Command("uname", "-r").Output()
	return fmt.Sprintf("%s, %d cores%s, Linux %s, %s; %s", cpu, runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)),
		runtime.Version(), toolVersions())
}

func toolVersions() string {
	var out []string
	for _, t := range [][]string{{"mbsync", "--version"}, {"rclone", "version"}, {"jdupes", "--version"}, {"ripmime", "-V"}, {"dovecot", "--version"}, {"smbd", "--version"}} {
		o, err := exec.Command(t[0], t[1:]...).CombinedOutput()
		if err != nil && len(o) == 0 {
			continue
		}
		line := strings.TrimSpace(strings.SplitN(string(o), "\n", 2)[0])
		if !strings.Contains(strings.ToLower(line), strings.ToLower(t[0])) && !strings.HasPrefix(line, "v") {
			line = t[0] + " " + line
		}
		out = append(out, line)
	}
	return strings.Join(out, ", ")
}
