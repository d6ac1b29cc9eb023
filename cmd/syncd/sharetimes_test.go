package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors/imap/imaptest"
	"github.com/syncd/syncd/connectors/share/sharetest"
)

// mailDocx starts Dovecot with one message to alice, dated date, carrying
// data as the attachment name; it returns the server's address and sets
// the password variable the configs name.
func mailDocx(t *testing.T, name string, data []byte, date time.Time) string {
	t.Helper()
	mail := filepath.Join(t.TempDir(), "alice", "INBOX")
	if err := os.MkdirAll(mail, 0o755); err != nil {
		t.Fatal(err)
	}
	msg := "From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: " + name + ", final\nDate: " + date.Format(time.RFC1123Z) +
		"\nMessage-ID: <final@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nthe final one\n--b\n" +
		"Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=\"" + name + "\"\nContent-Disposition: attachment; filename=\"" + name + "\"\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString(data) + "\n--b--\n"
	if err := os.WriteFile(filepath.Join(mail, "1.eml"), []byte(strings.ReplaceAll(msg, "\n", "\r\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return dovecotTree(t, filepath.Dir(filepath.Dir(mail)))
}

// dovecotTree starts Dovecot seeded from a mail tree (imaptest's layout),
// stopped when the test ends, and sets the password variable the configs
// name; it returns the server's address. Without Dovecot the test is
// skipped, except under CI, where it fails.
func dovecotTree(t *testing.T, dir string) string {
	t.Helper()
	dc, err := imaptest.StartDovecotTree(context.Background(), dir)
	if err != nil {
		if err == imaptest.ErrNoDovecot && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Stop() })
	t.Setenv(demoPasswordEnv, imaptest.Password)
	return dc.Addr
}

// checklistDocx is a Word document of the given paragraphs whose core
// properties say it was last saved at modified, the revision-th time.
func checklistDocx(t *testing.T, paras []string, modified time.Time, revision int) []byte {
	t.Helper()
	var body strings.Builder
	body.WriteString(`<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for _, p := range paras {
		fmt.Fprintf(&body, `<w:p><w:r><w:t>%s</w:t></w:r></w:p>`, p)
	}
	body.WriteString(`</w:body></w:document>`)
	core := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><cp:revision>%d</cp:revision><dcterms:modified xsi:type="dcterms:W3CDTF">%s</dcterms:modified></cp:coreProperties>`,
		revision, modified.UTC().Format(time.RFC3339))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, data string }{
		{"[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
		{"word/document.xml", body.String()},
		{"docProps/core.xml", core},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestShareTimesResetThroughSambaAndDovecot: four versions of a checklist
// on a Samba share whose times were all reset to the day the share was
// copied to a new filer (day 30), and the final version mailed on day 10
// through Dovecot. After `syncd sync` the export has one document whose
// versions follow each file's own record of its last save: the share
// versions first, in the order they were saved, then the mailed final,
// whose parent is the fourth.
func TestShareTimesResetThroughSambaAndDovecot(t *testing.T) {
	t0 := time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)
	sentences := []string{
		"Confirm the cutover window with the service owner.",
		"Freeze changes to the payroll configuration.",
		"Take a full backup of the ledger database.",
		"Check the supplier interface queues are empty.",
		"Run the reconciliation reports and file them.",
		"Brief the service desk on the fallback plan.",
		"Record the sign-off of the programme board.",
	}
	share := sharetest.ShareDir(t)
	ops := filepath.Join(share, "Ops")
	if err := os.MkdirAll(ops, 0o755); err != nil {
		t.Fatal(err)
	}
	copied := t0.Add(30 * 24 * time.Hour)
	var shas []string
	var final []byte
	for i := range 5 {
		data := checklistDocx(t, sentences[:3+i], t0.Add(time.Duration(i)*48*time.Hour), i+1)
		sum := sha256.Sum256(data)
		shas = append(shas, hex.EncodeToString(sum[:]))
		if i == 4 {
			final = data // mailed on day 10, below
			break
		}
		p := filepath.Join(ops, fmt.Sprintf("Checklist v%d.docx", i+1))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// The copy to the new filer: every file the same minute.
		if err := os.Chtimes(p, copied, copied.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	addr := mailDocx(t, "Checklist v5.docx", final, t0.Add(10*24*time.Hour))
	smb := sharetest.StartSamba(t, share)
	t.Setenv("SYNCD_TEST_SMB_PASSWORD", smb.Password)
	cfg := filepath.Join(t.TempDir(), "syncd.yaml")
	conf := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: ops\n    workspace: ops\n    sources:\n"+
		"      - name: smb\n        type: share\n        remote: %q\n        password_env: SYNCD_TEST_SMB_PASSWORD\n"+
		"      - name: imap-alice\n        type: imap\n        address: %q\n        tls: none\n        username: alice\n        password_env: %s\n",
		filepath.Join(t.TempDir(), "store"), smb.Remote(""), addr, demoPasswordEnv)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	exp := syncExport(t, cfg)
	if len(exp.Documents) != 1 || len(exp.Documents[0].Versions) != 5 {
		t.Fatalf("export: %d documents, want one of 5 versions: %+v", len(exp.Documents), exp.Documents)
	}
	idOf := map[string]string{}
	for _, v := range exp.Documents[0].Versions {
		idOf[v.SHA256] = v.ID
	}
	for _, v := range exp.Documents[0].Versions {
		i := indexOf(shas, v.SHA256)
		if i < 0 {
			t.Fatalf("version %s holds content that was not written", v.ID)
		}
		if v.Seq != i+1 {
			t.Errorf("checklist v%d is version %d", i+1, v.Seq)
		}
		if i == 4 {
			if len(v.Parents) != 1 || v.Parents[0] != idOf[shas[3]] {
				t.Errorf("the mailed final's parents %v, want v4 (%s)", v.Parents, idOf[shas[3]])
			}
		}
	}
}
