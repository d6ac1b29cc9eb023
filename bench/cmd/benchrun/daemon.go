package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"golang.org/x/sync/errgroup"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/syncd/syncd/bench/internal/measure"
)

// daemonResync measures a re-sync the way IT runs syncd: a daemon
// (`syncd run`, no schedule) is started on the store, untimed, and one run
// of job is triggered over the HTTP API; the sample is that run, from the
// POST to its "run finished" log line, with the daemon's CPU and peak RSS.
// Process start and catalog open, which a scheduled run in a daemon does
// not pay, are left out; the one-shot `syncd sync` rows include them.
// If idleRSS is set, the daemon's resident size once it says it is idle
// after the run (the size it keeps between runs) is stored there.
func (b *bench) daemonResync(job, cfg string, env []string, idleRSS *int64) func(context.Context) (measure.Sample, error) {
	return func(ctx context.Context) (measure.Sample, error) {
		ctx, cancel := context.WithTimeout(ctx, b.o.limit)
		defer cancel()
		cmd := exec.CommandContext(ctx, b.o.syncd, "run", "--config", cfg, "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "info")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout = io.Discard
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return measure.Sample{}, err
		}
		if err := cmd.Start(); err != nil {
			return measure.Sample{}, err
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()
		lines := make(chan map[string]any, 256)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stderr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) != nil {
					continue
				}
				select {
				case lines <- m:
				default: // nobody waits for it; keep the daemon's stderr flowing
				}
			}
		}()
		wait := func(what string, match func(map[string]any) bool) (map[string]any, error) {
			for {
				select {
				case m, ok := <-lines:
					if !ok {
						return nil, fmt.Errorf("syncd run exited before %s", what)
					}
					if match(m) {
						return m, nil
					}
				case <-ctx.Done():
					return nil, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
				}
			}
		}
		started, err := wait("daemon started", func(m map[string]any) bool { return m["msg"] == "daemon started" })
		if err != nil {
			return measure.Sample{}, err
		}
		addr, _ := started["listen"].(string)
		pid := cmd.Process.Pid
		cpu0, err := procCPU(pid)
		if err != nil {
			return measure.Sample{}, err
		}
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/api/v1/jobs/"+job+"/run", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return measure.Sample{}, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return measure.Sample{}, fmt.Errorf("POST run: %s", resp.Status)
		}
		fin, err := wait("the run to finish", func(m map[string]any) bool { return m["msg"] == "run finished" && m["job"] == job })
		if err != nil {
			return measure.Sample{}, err
		}
		wall := time.Since(t0)
		cpu1, err := procCPU(pid)
		if err != nil {
			return measure.Sample{}, err
		}
		if fin["status"] != "ok" {
			return measure.Sample{}, fmt.Errorf("daemon run: status %v", fin["status"])
		}
		if idleRSS != nil {
			if _, err := wait("the daemon to be idle", func(m map[string]any) bool { return m["msg"] == "daemon idle: memory returned to the OS" }); err != nil {
				return measure.Sample{}, err
			}
			*idleRSS = procStatus(pid, "VmRSS:")
		}
		return measure.Sample{Wall: wall, CPU: time.Duration((cpu1 - cpu0) * float64(time.Second)), MaxRSS: peakRSS(pid)}, nil
	}
}

// peakRSS is a process's VmHWM in bytes (0 if unknown).
func peakRSS(pid int) int64 { return procStatus(pid, "VmHWM:") }

// procStatus is a size field of /proc/PID/status in bytes (0 if unknown).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// imapLogins is the server's share of an unchanged re-sync: connect, log
// in and log out of every account side by side (as the daemon's sources
// run), with a plain go-imap client and nothing else. Dovecot starts an
// imap-login and an imap process for each connection, one at a time.
// Only wall time is recorded (the client is this process).
func imapLogins(addr string, users []string, password string) func(context.Context) (measure.Sample, error) {
	return func(ctx context.Context) (measure.Sample, error) {
		t0 := time.Now()
		errs := make(chan error, len(users))
		for _, u := range users {
			go func() { errs <- imapLoginLogout(ctx, addr, u, password) }()
		}
		var first error
		for range users {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return measure.Sample{Wall: time.Since(t0)}, first
	}
}

// imapLoginsAtATime logs in and out of every account, n at a time.
func imapLoginsAtATime(addr string, users []string, password string, n int) func(context.Context) (measure.Sample, error) {
	return func(ctx context.Context) (measure.Sample, error) {
		t0 := time.Now()
		var g errgroup.Group
		g.SetLimit(n)
		for _, u := range users {
			g.Go(func() error { return imapLoginLogout(ctx, addr, u, password) })
		}
		err := g.Wait()
		return measure.Sample{Wall: time.Since(t0)}, err
	}
}

func imapLoginLogout(ctx context.Context, addr, user, password string) error {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(user, password).Wait(); err != nil {
		return fmt.Errorf("%s: login: %w", user, err)
	}
	return c.Logout().Wait()
}
