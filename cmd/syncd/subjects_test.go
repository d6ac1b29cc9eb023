package main

import (
	"context"
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

	"github.com/syncd/syncd/connectors/imap/imaptest"
	"github.com/syncd/syncd/engine/history"
)

// TestConversationBySubjectThroughDovecot: a conversation from webmail
// that sends no In-Reply-To or References, its subjects prefixed by a
// Swedish client, a gateway and a counting webmail, each message with an
// edit under a new name, delivered to a real Dovecot. After `syncd sync`
// the export links each version to the one before by the conversation's
// subject and people.
func TestConversationBySubjectThroughDovecot(t *testing.T) {
	dir := t.TempDir()
	box := filepath.Join(dir, "alice", "INBOX")
	if err := os.MkdirAll(box, 0o755); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 9, 1, 9, 0, 0, 0, time.UTC)
	sentences := []string{
		"The forecast assumes a three percent pay award from April.",
		"Estates savings come from closing the second floor of the annex.",
		"Digital licences move to the enterprise agreement in the autumn.",
		"Travel is held at last year's outturn less ten percent.",
		"Training budgets are pooled across the directorate.",
		"Contingency is set at two percent of the total.",
	}
	msgs := []struct{ subject, from, to, name string }{
		{"Budget 2025 forecast", "alice@dept.gov.example", "bob@partner.example", "Forecast.txt"},
		{"SV: [EXTERNAL] Budget 2025 forecast", "bob@partner.example", "alice@dept.gov.example", "Figures from Bob.txt"},
		{"RE[2]: SV: Budget 2025 forecast", "alice@dept.gov.example", "bob@partner.example", "Numbers agreed.txt"},
	}
	var shas []string
	for i, m := range msgs {
		att := strings.Join(sentences[:4+i], "\n") + "\n"
		sum := sha256.Sum256([]byte(strings.ReplaceAll(strings.TrimSuffix(att, "\n"), "\n", "\r\n")))
		shas = append(shas, hex.EncodeToString(sum[:]))
		msg := fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <webmail-%d@example.org>\n"+
			"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n"+
			"Content-Type: text/plain; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\n\n%s--b--\n",
			m.from, m.to, m.subject, t0.Add(time.Duration(i)*24*time.Hour).Format(time.RFC1123Z), i, m.name, m.name, att)
		if err := os.WriteFile(filepath.Join(box, fmt.Sprintf("%d.eml", i+1)), []byte(strings.ReplaceAll(msg, "\n", "\r\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dc, err := imaptest.StartDovecotTree(context.Background(), dir)
	if err != nil {
		if err == imaptest.ErrNoDovecot && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Stop() })
	t.Setenv(demoPasswordEnv, imaptest.Password)
	cfg := filepath.Join(t.TempDir(), "syncd.yaml")
	conf := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: mail\n    workspace: budget\n    sources:\n"+
		"      - name: imap-alice\n        type: imap\n        address: %q\n        tls: none\n        username: alice\n        password_env: %s\n",
		filepath.Join(t.TempDir(), "store"), dc.Addr, demoPasswordEnv)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
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
	if len(exp.Documents) != 1 || len(exp.Documents[0].Versions) != len(msgs) {
		t.Fatalf("export: %d documents, want one of %d versions:\n%s", len(exp.Documents), len(msgs), out)
	}
	idOf := map[string]string{}
	for _, v := range exp.Documents[0].Versions {
		idOf[v.SHA256] = v.ID
	}
	for _, v := range exp.Documents[0].Versions {
		i := indexOf(shas, v.SHA256)
		if i <= 0 {
			continue
		}
		if len(v.Links) != 1 || v.Links[0].Parent != idOf[shas[i-1]] || v.Links[0].Reason != history.ReasonMailSubject {
			t.Errorf("message %d's version links %+v, want the version of message %d by %s", i+1, v.Links, i, history.ReasonMailSubject)
		}
	}
}
