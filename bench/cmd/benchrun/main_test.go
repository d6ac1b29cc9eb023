package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors/imap/imaptest"
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

// The login row logs every account in and out, and fails on a refused
// login rather than timing it.
func TestIMAPLogins(t *testing.T) {
	users := []string{"ann", "ben", "cat"}
	srv, err := imaptest.StartMemoryServer(users)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	s, err := imapLogins(srv.Addr, users, imaptest.Password)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Wall <= 0 || s.CPU != 0 || s.MaxRSS != 0 {
		t.Fatalf("sample %+v: want wall time only", s)
	}
	if _, err := imapLogins(srv.Addr, users, "wrong")(context.Background()); err == nil || !strings.Contains(err.Error(), "login") {
		t.Fatalf("wrong password: err = %v", err)
	}
}
