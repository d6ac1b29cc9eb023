package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Every command starts by initialising every package linked in, so what
// syncd's own packages do at initialisation every command pays, `syncd
// version` included. Templates and name patterns are compiled on first
// use; this counts each package's initialisation allocations (as the Go
// runtime reports them, exact for a build) and fails when one of ours does
// real work again. Third-party packages are not ours to change (rclone's
// S3 backend is the largest: docs/benchmarks.md).
func TestStartupInitIsLight(t *testing.T) {
	cmd := exec.Command(syncdBinary(t), "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("syncd version: %v\n%s", err, stderr.String())
	}
	// Lines: init PKG @T ms, C ms clock, B bytes, A allocs
	const budget = 1000 // the connectors' noise classifier (about 470) is the largest wanted
	seen := 0
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 11 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/syncd/syncd") {
			continue
		}
		seen++
		allocs, err := strconv.Atoi(f[9])
		if err != nil || f[10] != "allocs" {
			t.Fatalf("unexpected inittrace line %q", sc.Text())
		}
		if allocs > budget {
			t.Errorf("%s allocates %d times while initialising (budget %d): move the work to first use (sync.OnceValue)", f[1], allocs, budget)
		}
	}
	if seen < 5 {
		t.Fatalf("inittrace reported %d of syncd's packages; output:\n%s", seen, stderr.String())
	}
}
