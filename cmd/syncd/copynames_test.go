package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors/share/sharetest"
	"github.com/syncd/syncd/engine/history"
)

// TestCopyNamesThroughSamba: three edits of a budget paper on a Samba
// share, each in a folder of its own, under copy names a German client, a
// French client and OneDrive's conflict copies give ("Kopie von
// Budget.docx", "Budget - Copie.docx", "Budget-DESKTOP-4F2K9.docx"), and
// "Budget.docx". Each pair shares a
// third of its text: too little for content alone to join them (0.40), enough
// with a shared name family (0.30). After `syncd sync` they are one
// document of four versions linked by their name family.
func TestCopyNamesThroughSamba(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	words := strings.Fields("budget forecast savings staff estates digital contract supplier risk ledger payroll " +
		"programme board approval quarter variance capital revenue pressure headcount travel training licence")
	sentence := func() string {
		w := make([]string, 14)
		for i := range w {
			w[i] = words[r.Intn(len(words))]
		}
		return strings.Join(w, " ") + "."
	}
	common := make([]string, 10)
	for i := range common {
		common[i] = sentence()
	}
	share := sharetest.ShareDir(t)
	t0 := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	names := []string{"Budget.docx", "Kopie von Budget.docx", "Budget - Copie.docx", "Budget-DESKTOP-4F2K9.docx"}
	for i, name := range names {
		paras := append([]string(nil), common...)
		for range 10 {
			paras = append(paras, sentence())
		}
		dir := filepath.Join(share, []string{"Finance", "Berlin office", "Paris office", "Home"}[i])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, checklistDocx(t, paras, t0.Add(time.Duration(i)*24*time.Hour), i+1), 0o644); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Duration(i) * 24 * time.Hour)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	smb := sharetest.StartSamba(t, share)
	t.Setenv("SYNCD_TEST_SMB_PASSWORD", smb.Password)
	cfg := filepath.Join(t.TempDir(), "syncd.yaml")
	conf := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: finance\n    workspace: finance\n    sources:\n"+
		"      - name: smb\n        type: share\n        remote: %q\n        password_env: SYNCD_TEST_SMB_PASSWORD\n",
		filepath.Join(t.TempDir(), "store"), smb.Remote(""))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	exp := syncExport(t, cfg)
	if len(exp.Documents) != 1 || len(exp.Documents[0].Versions) != len(names) {
		var got []string
		for _, d := range exp.Documents {
			got = append(got, fmt.Sprintf("%s (%d versions)", d.Name, len(d.Versions)))
		}
		t.Fatalf("documents %v, want one of %d versions", got, len(names))
	}
	for _, v := range exp.Documents[0].Versions {
		for _, l := range v.Links {
			if l.Reason != history.ReasonName {
				t.Errorf("version %d linked by %s, want the name family", v.Seq, l.Reason)
			}
		}
		if v.Seq > 1 && len(v.Links) == 0 {
			t.Errorf("version %d has no link", v.Seq)
		}
	}
}
