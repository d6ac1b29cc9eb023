package main

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeTestConfig serves corpus (mail, SharePoint, share) and writes a
// config whose store is storeDir.
func writeTestConfig(t *testing.T, corpus, storeDir string) string {
	t.Helper()
	srv, err := startDemoServers(context.Background(), corpus, "memory")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	cfg := filepath.Join(t.TempDir(), "syncd.yaml")
	if err := os.WriteFile(cfg, []byte(srv.config(corpus, storeDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runSyncd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(syncdBinary(t), args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestKill9Resumes kills `syncd sync` with SIGKILL at random moments over a
// job with IMAP, SharePoint and share sources, then lets it finish: the
// store must equal an uninterrupted run's, and verify must be clean.
func TestKill9Resumes(t *testing.T) {
	corpus := testCorpus(t, 3000)
	refStore := filepath.Join(t.TempDir(), "ref")
	refCfg := writeTestConfig(t, corpus, refStore)
	start := time.Now()
	if out, code := runSyncd(t, "sync", "--config", refCfg, "--log-level", "error"); code != 0 {
		t.Fatalf("reference sync exit %d:\n%s", code, out)
	}
	full := time.Since(start)
	want := storeContent(t, refStore)

	crashStore := filepath.Join(t.TempDir(), "crash")
	cfg := writeTestConfig(t, corpus, crashStore)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	kills := 0
	// Kill runs at random points of their own progress (the K-th progress
	// or source-finished log line) until one gets to finish, at most 12
	// times. Resumed runs have less left to do, so K shrinks.
	for i := 0; i < 12; i++ {
		cmd := exec.Command(syncdBinary(t), "sync", "--config", cfg, "--log-format", "json", "--log-level", "info",
			"--progress", "log", "--progress-every", "10ms")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		k := 1 + rng.IntN(40/(1+i)+1)
		events := 0
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"msg":"progress"`) || strings.Contains(line, `"msg":"source finished"`) {
				events++
				if events == k {
					cmd.Process.Signal(syscall.SIGKILL)
				}
			}
		}
		err = cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.Exited() {
			t.Logf("run %d finished after %d progress events, before its kill at event %d (err=%v)", i, events, k, err)
			break
		}
		kills++
	}
	t.Logf("killed %d runs (a full run takes %v)", kills, full.Round(time.Millisecond))
	if kills < 2 {
		t.Fatalf("only %d runs were killed: the test proved too little", kills)
	}
	if out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error"); code != 0 {
		t.Fatalf("final sync exit %d:\n%s", code, out)
	}
	got := storeContent(t, crashStore)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("store after crashes differs from an uninterrupted run (%d vs %d lines):\n%s", len(got), len(want), diffLines(want, got))
	}
	if out, code := runSyncd(t, "verify", "--config", cfg); code != 0 {
		t.Fatalf("verify after crashes: exit %d\n%s", code, out)
	}
}
