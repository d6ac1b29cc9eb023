package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/engine/history"
)

// TestLyingClocksThroughDovecot: a thread of four replies, each carrying a
// new version of Plan.txt, delivered to a real Dovecot. The third reply
// came from a PC whose clock is a day slow: its Date header is before the
// second message, while the server stamped its arrival (INTERNALDATE, here
// from its Received header) at the true time. After `syncd sync` the
// export has one document whose versions follow the thread: each version's
// parent is the one in the message it answers, numbered in that order, the
// third dated by its arrival.
func TestLyingClocksThroughDovecot(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 5, 6, 9, 0, 0, 0, time.UTC)
	type msg struct {
		id, replyTo   string
		date, arrived time.Time
	}
	msgs := []msg{
		{"plan-1@example.org", "", t0, t0.Add(time.Minute)},
		{"plan-2@example.org", "plan-1@example.org", t0.Add(24 * time.Hour), t0.Add(24*time.Hour + time.Minute)},
		{"plan-3@example.org", "plan-2@example.org", t0.Add(20 * time.Hour), t0.Add(48*time.Hour + time.Minute)}, // a day slow
		{"plan-4@example.org", "plan-3@example.org", t0.Add(72 * time.Hour), t0.Add(72*time.Hour + time.Minute)},
	}
	sentences := []string{
		"The programme board approved the migration plan for the finance ledger.",
		"Cutover is planned for the second weekend after the payroll run.",
		"Risks are tracked in the register and reported to the board monthly.",
		"Supplier readiness will be confirmed before the data quality checks.",
		"Training for staff starts three weeks before the service transition.",
		"Savings and benefits are forecast against the approved business case.",
	}
	var shas []string
	box := filepath.Join(dir, "alice", "INBOX")
	if err := os.MkdirAll(box, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		// Each revision adds a sentence to the one before.
		att := strings.Join(sentences[:3+i], "\n") + "\n"
		// As mailed: CRLF lines, the last line break the boundary's.
		sum := sha256.Sum256([]byte(strings.ReplaceAll(strings.TrimSuffix(att, "\n"), "\n", "\r\n")))
		shas = append(shas, hex.EncodeToString(sum[:]))
		var h strings.Builder
		fmt.Fprintf(&h, "Received: from pc.example.org by mx.example.org; %s\n", m.arrived.Format(time.RFC1123Z))
		fmt.Fprintf(&h, "From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: RE: Plan\nDate: %s\nMessage-ID: <%s>\n", m.date.Format(time.RFC1123Z), m.id)
		if m.replyTo != "" {
			fmt.Fprintf(&h, "In-Reply-To: <%s>\nReferences: <%s>\n", m.replyTo, m.replyTo)
		}
		fmt.Fprintf(&h, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n"+
			"Content-Type: text/plain; name=\"Plan.txt\"\nContent-Disposition: attachment; filename=\"Plan.txt\"\n\n%s--b--\n", att)
		if err := os.WriteFile(filepath.Join(box, fmt.Sprintf("%d.eml", i+1)), []byte(strings.ReplaceAll(h.String(), "\n", "\r\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := dovecotTree(t, dir)
	cfg := filepath.Join(t.TempDir(), "syncd.yaml")
	conf := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: mail\n    workspace: clocks\n    sources:\n"+
		"      - name: imap-alice\n        type: imap\n        address: %q\n        tls: none\n        username: alice\n        password_env: %s\n",
		filepath.Join(t.TempDir(), "store"), addr, demoPasswordEnv)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	exp := syncExport(t, cfg)
	if len(exp.Documents) != 1 {
		t.Fatalf("%d documents, want the thread's one", len(exp.Documents))
	}
	d := exp.Documents[0]
	if len(d.Versions) != len(msgs) {
		t.Fatalf("%d versions, want %d", len(d.Versions), len(msgs))
	}
	idOf := map[string]string{}
	for _, v := range d.Versions {
		idOf[v.SHA256] = v.ID
	}
	for _, v := range d.Versions {
		i := indexOf(shas, v.SHA256)
		if i < 0 {
			t.Fatalf("version %s holds content that was not mailed", v.ID)
		}
		if v.Seq != i+1 {
			t.Errorf("the version of message %d is version %d", i+1, v.Seq)
		}
		var want []string
		if i > 0 {
			want = []string{idOf[shas[i-1]]}
		}
		if fmt.Sprint(v.Parents) != fmt.Sprint(want) {
			t.Errorf("message %d's version has parents %v, want %v (the version in the message it answers)", i+1, v.Parents, want)
		}
		wantTime := msgs[i].date
		if i == 2 {
			wantTime = msgs[i].arrived // the slow clock: its arrival
		}
		if v.Time != wantTime.UTC().Format(time.RFC3339) {
			t.Errorf("message %d's version time %s, want %s", i+1, v.Time, wantTime.UTC().Format(time.RFC3339))
		}
	}
}

// syncExport runs `syncd sync` and then `syncd export --format json` on
// cfg and returns the export.
func syncExport(t *testing.T, cfg string) history.ExportDoc {
	t.Helper()
	if out, code := runSyncd(t, "sync", "--config", cfg); code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	out, err := exec.Command(syncdBinary(t), "export", "--format", "json", "--config", cfg).Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	var exp history.ExportDoc
	if err := json.Unmarshal(out, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
