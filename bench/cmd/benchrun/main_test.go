package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpliceDocs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.md")
	doc := "# Benchmarks\n\nintro\n\n" + beginMarker + "\nold table\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := spliceDocs(p, "| new |"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	got := string(b)
	if strings.Contains(got, "old table") || !strings.Contains(got, beginMarker+"\n| new |\n"+endMarker) || !strings.HasSuffix(got, "after\n") {
		t.Fatalf("spliced doc:\n%s", got)
	}
	os.WriteFile(p, []byte("no markers"), 0o644)
	if err := spliceDocs(p, "x"); err == nil {
		t.Fatal("a file without markers was accepted")
	}
}

func TestSummaryLine(t *testing.T) {
	out := "   job        source  scanned  known  new  duplicate  bytes_fetched  status\n" +
		"  mail     mail-bob      619      0    0        249      108.8 MiB      ok\n" +
		"  mail  (all, run 1)     2395      0  194        770      143.9 MiB      ok\n"
	got := summaryLine(out)
	want := "scanned 2395, known 0, new 194, duplicate 770, bytes_fetched 143.9 MiB, status ok"
	if got != want {
		t.Fatalf("summaryLine = %q, want %q", got, want)
	}
}

func TestProcCPU(t *testing.T) {
	v, err := procCPU(os.Getpid())
	if err != nil || v < 0 {
		t.Fatalf("procCPU(self) = %v, %v", v, err)
	}
	if _, err := procCPU(-1); err == nil {
		t.Fatal("procCPU of no process returned no error")
	}
}
