// Package measure runs one command under GNU time (/usr/bin/time -v) and
// reports its wall time, CPU time (user + system, children included) and
// peak resident set size, and summarises repeated samples.
package measure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TimeBin is GNU time.
const TimeBin = "/usr/bin/time"

// ErrTimeout marks a command stopped at its time limit.
var ErrTimeout = errors.New("time limit reached")

// Sample is one run of a command.
type Sample struct {
	Wall   time.Duration
	CPU    time.Duration // user + system
	MaxRSS int64         // bytes, the largest single process
}

// Cmd is a command to time.
type Cmd struct {
	Name  string   // shown in errors
	Args  []string // argv
	Dir   string
	Env   []string // added to the environment
	Limit time.Duration
	// Stdout receives the command's standard output (default: discarded).
	Stdout *bytes.Buffer
}

// Run runs c once under GNU time. The whole process group is killed at
// c.Limit, and the error then wraps ErrTimeout.
func Run(ctx context.Context, c Cmd) (Sample, error) {
	report, err := os.CreateTemp("", "bench-time-*")
	if err != nil {
		return Sample{}, err
	}
	report.Close()
	defer os.Remove(report.Name())
	if c.Limit <= 0 {
		c.Limit = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, c.Limit)
	defer cancel()
	args := append([]string{"-v", "-o", report.Name()}, c.Args...)
	cmd := exec.CommandContext(ctx, TimeBin, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	if ctx.Err() == context.DeadlineExceeded {
		return Sample{Wall: wall}, fmt.Errorf("%s: %w (%s)", c.Name, ErrTimeout, c.Limit)
	}
	if runErr != nil {
		return Sample{Wall: wall}, fmt.Errorf("%s: %w: %s", c.Name, runErr, tail(stderr.String(), 1500))
	}
	text, err := os.ReadFile(report.Name())
	if err != nil {
		return Sample{}, err
	}
	s, err := Parse(string(text))
	if err != nil {
		return s, fmt.Errorf("%s: %w", c.Name, err)
	}
	s.Wall = wall // monotonic clock, finer than time's 10 ms
	return s, nil
}

// Parse reads the report of `time -v`.
func Parse(text string) (Sample, error) {
	var s Sample
	var found int
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		if !ok {
			continue
		}
		switch key {
		case "User time (seconds)", "System time (seconds)":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return s, fmt.Errorf("time report: %s: %w", key, err)
			}
			s.CPU += time.Duration(f * float64(time.Second))
			found++
		case "Maximum resident set size (kbytes)":
			kb, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return s, fmt.Errorf("time report: %s: %w", key, err)
			}
			s.MaxRSS = kb << 10
			found++
		case "Elapsed (wall clock) time (h:mm:ss or m:ss)":
			s.Wall = parseClock(val)
			found++
		}
	}
	if found < 4 {
		return s, fmt.Errorf("time report: missing fields in %q", tail(text, 300))
	}
	return s, nil
}

// parseClock reads "1:02:03.45" or "2:03.45".
func parseClock(v string) time.Duration {
	var d float64
	for _, p := range strings.Split(v, ":") {
		f, _ := strconv.ParseFloat(p, 64)
		d = d*60 + f
	}
	return time.Duration(d * float64(time.Second))
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Stat is the median and range of one quantity over samples.
type Stat struct{ Median, Min, Max float64 }

// Summary summarises samples of one command.
type Summary struct {
	N                 int
	Wall, CPU, MaxRSS Stat // seconds, seconds, bytes
}

// Summarise computes the median and min-max of each quantity.
func Summarise(samples []Sample) Summary {
	get := func(f func(Sample) float64) Stat {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = f(s)
		}
		return stat(v)
	}
	return Summary{
		N:      len(samples),
		Wall:   get(func(s Sample) float64 { return s.Wall.Seconds() }),
		CPU:    get(func(s Sample) float64 { return s.CPU.Seconds() }),
		MaxRSS: get(func(s Sample) float64 { return float64(s.MaxRSS) }),
	}
}

func stat(v []float64) Stat {
	if len(v) == 0 {
		return Stat{}
	}
	sort.Float64s(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{Median: m, Min: v[0], Max: v[len(v)-1]}
}
