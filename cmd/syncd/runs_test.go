package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestSyncThenRunsListsCountsAndProblems(t *testing.T) {
	path := tempConfig(t, `
store: {path: ./data}
jobs:
  - name: docs
    sources:
      - {name: runsdrive, type: testmem, files: 7, broken: 2, skip: 1, throttled: 4}
`)
	var out, errb bytes.Buffer
	code := runMain(context.Background(), []string{"sync", "--config", path, "--progress", "none", "--log-format", "json"}, &out, &errb)
	if code != exitProblems {
		t.Fatalf("sync with broken items: exit %d, want %d\n%s", code, exitProblems, errb.String())
	}
	out.Reset()
	if code := runMain(context.Background(), []string{"runs", "--config", path, "--problems", "1"}, &out, &errb); code != exitOK {
		t.Fatalf("runs: exit %d\n%s", code, errb.String())
	}
	s := out.String()
	lines := strings.Split(s, "\n")
	if len(lines) < 2 || !contains(lines[1], "docs", "sync", "problems", " 7 ", " 4 ", " 1 ", " 2 ") {
		t.Errorf("run row lacks job, mode, status, scanned 7, new 4, skipped 1, problems 2, throttled 4:\n%s", s)
	}
	if !contains(s, "problems (2):", "runsdrive: runsdrive/broken-000.txt: permission-denied", "... and 1 more") {
		t.Errorf("problems not listed with item and reason:\n%s", s)
	}
	out.Reset()
	if code := runMain(context.Background(), []string{"runs", "--config", path, "--job", "other"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "no runs") {
		t.Errorf("runs of a job without runs: exit %d out %q", code, out.String())
	}
}
