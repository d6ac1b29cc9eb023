package main

import (
	"bytes"
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
	// Kill runs at random points until one gets to finish (after which
	// there is nothing left to interrupt), at most 12 times.
	for i := 0; i < 12; i++ {
		cmd := exec.Command(syncdBinary(t), "sync", "--config", cfg, "--log-level", "error", "--progress", "none")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Fault injection, not synchronisation: the kill lands at a random
		// point early in the run (resumed runs have less left to do).
		delay := time.Duration(rng.Int64N(int64(full) / int64(4+2*i)))
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err := cmd.Wait()
		timer.Stop()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.Exited() {
			t.Logf("run %d finished before its kill at %v: err=%v\n%s", i, delay, err, out.String())
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
