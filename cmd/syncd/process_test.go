package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helper processes: the test binary re-executed with SYNCD_HELPER_MAIN=1
// runs syncd's main with the arguments after "--", with the test-only
// source types registered. This is how process-level tests (signals,
// SIGKILL crash loops) drive syncd with sources that exist only in tests.
func init() {
	if os.Getenv("SYNCD_HELPER_MAIN") != "1" {
		return
	}
	registerTestSources()
	args := os.Args[1:]
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// proc is a syncd child process.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuf
	stderr *syncBuf
	done   chan struct{}
	err    error
}

// helperCmd returns the command line running this test binary as syncd.
func helperCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "SYNCD_HELPER_MAIN=1")
	return cmd
}

func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, stdout: &syncBuf{}, stderr: &syncBuf{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exitCode waits (bounded) for the process and returns its exit code.
func (p *proc) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("process did not exit within %v; stderr:\n%s", within, p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// logLine waits for a JSON log line with msg and returns it decoded.
func (p *proc) logLine(t *testing.T, msg string) map[string]any {
	t.Helper()
	var found map[string]any
	eventually(t, "log line "+msg, func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
				found = m
				return true
			}
		}
		select {
		case <-p.done:
			t.Fatalf("process exited before logging %q: %v\n%s", msg, p.err, p.stderr)
		default:
		}
		return false
	})
	return found
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// buildSyncd builds the real binary with `go build`.
func buildSyncd(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("go toolchain not found")
		}
		t.Skip("go toolchain not found")
	}
	bin := filepath.Join(t.TempDir(), "syncd")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Stderr = &syncBuf{}
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("go build: %v\n%s%s", err, out, cmd.Stderr)
	}
	return bin
}

func TestProcessSIGHUPKeepsOldConfigAndSIGTERMExits(t *testing.T) {
	bin := buildSyncd(t)
	// The real binary knows only the real source types (checked at load);
	// these jobs never run.
	real := func(cfg string) string {
		return strings.ReplaceAll(cfg, "type: testmem, files: 2", "type: folder, path: .")
	}
	path := tempConfig(t, real(reloadA))
	p := startProc(t, exec.Command(bin, "run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "json"))
	base := "http://" + p.logLine(t, "daemon started")["listen"].(string)
	jobs := func() jobsReply {
		var r jobsReply
		getJSON(t, base+"/api/v1/jobs", "", &r)
		return r
	}
	if r := jobs(); jobNames(r) != "alpha" {
		t.Fatalf("jobs %s", jobNames(r))
	}
	writeFile(t, path, "jobs:\n  - name: [broken\n")
	p.signal(t, syscall.SIGHUP)
	eventually(t, "the broken reload to be rejected", func() bool { return jobs().Config.LastReloadError != "" })
	if r := jobs(); jobNames(r) != "alpha" || r.Config.Generation != 1 {
		t.Fatalf("broken config replaced the running one: %s gen %d", jobNames(r), r.Config.Generation)
	}
	writeFile(t, path, real(reloadB))
	p.signal(t, syscall.SIGHUP)
	eventually(t, "the good reload", func() bool { return jobs().Config.Generation == 2 })
	if r := jobs(); jobNames(r) != "beta,gamma" || r.Config.LastReloadError != "" {
		t.Fatalf("after reload: %s err %q", jobNames(r), r.Config.LastReloadError)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr:\n%s", code, p.stderr)
	}
	p.logLine(t, "stopped")
}

func TestProcessSIGTERMMidRunThenSyncResumes(t *testing.T) {
	const total = 30
	dir := t.TempDir()
	path := filepath.Join(dir, "syncd.yaml")
	cfg := func(extra string) string {
		return "store: {path: ./data}\njobs:\n  - name: mig\n    sources: [{name: procsrc, type: testmem, files: 30" + extra + "}]\n"
	}
	writeFile(t, path, cfg(", block_after: 10"))
	p := startProc(t, helperCmd(t, "run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "json"))
	base := "http://" + p.logLine(t, "daemon started")["listen"].(string)
	if code, b := do(t, "POST", base+"/api/v1/jobs/mig/run", ""); code != 202 {
		t.Fatalf("POST run: %d %s", code, b)
	}
	eventually(t, "the run to be mid-way", func() bool {
		v, _ := metric(scrape(t, base, ""), "syncd_items_total", "job", "mig", "action", "scanned")
		return v >= 10
	})
	sent := time.Now()
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM mid-run; stderr:\n%s", code, p.stderr)
	}
	t.Logf("SIGTERM mid-run to exit: %v", time.Since(sent))
	p.logLine(t, "stopped")

	// The one-off sync resumes where the daemon stopped.
	writeFile(t, path, cfg(""))
	s := startProc(t, helperCmd(t, "sync", "--config", path, "--job", "mig", "--progress", "log", "--progress-every", "50ms", "--log-format", "json"))
	if code := s.exitCode(t, 60*time.Second); code != 0 {
		t.Fatalf("sync exit %d; stderr:\n%s", code, s.stderr)
	}
	if !contains(s.stdout.String(), "mig", "procsrc") {
		t.Errorf("no summary table on stdout:\n%s", s.stdout)
	}
	s.logLine(t, "source finished")

	r := startProc(t, helperCmd(t, "runs", "--config", path, "--json"))
	if code := r.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("runs exit %d: %s", code, r.stderr)
	}
	var reply runsReply
	if err := json.Unmarshal([]byte(r.stdout.String()), &reply); err != nil {
		t.Fatalf("runs --json: %v\n%s", err, r.stdout)
	}
	if len(reply.Runs) != 2 || reply.Runs[1].Status != "interrupted" || reply.Runs[0].Status != "ok" {
		t.Fatalf("runs %+v: want interrupted then ok", reply.Runs)
	}
	stopped, resumed := reply.Runs[1], reply.Runs[0]
	kept := stopped.Counts.New + stopped.Counts.Duplicate
	if kept < 1 || resumed.Counts.Fetched+kept != total || resumed.Counts.New+kept != total {
		t.Errorf("stopped run kept %d, resumed run %v: want the resumed run to fetch only the other %d", kept, resumed.Counts, total-kept)
	}
}
