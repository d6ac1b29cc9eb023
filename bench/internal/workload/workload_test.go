package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

func small() Spec {
	s := Default(0.05)
	s.LargeSize = 300 << 10
	s.MedianSize = 16 << 10
	return s
}

// treeHashes maps every file below dir to its SHA-256.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := Generate(t.TempDir(), small())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(t.TempDir(), small())
	if err != nil {
		t.Fatal(err)
	}
	ha, hb := treeHashes(t, a.Mail), treeHashes(t, b.Mail)
	if len(ha) == 0 || len(ha) != len(hb) {
		t.Fatalf("mail trees differ in size: %d vs %d", len(ha), len(hb))
	}
	for k, v := range ha {
		if hb[k] != v {
			t.Fatalf("%s differs between two generations", k)
		}
	}
	if a.ShareStats != b.ShareStats || a.MailStats != b.MailStats {
		t.Fatalf("stats differ: %+v %+v", a, b)
	}
}

// parts walks one message and returns its attachments' decoded hashes by
// file name, and whether an inline logo with a Content-ID is referenced
// from the HTML by cid:.
func parts(t *testing.T, path string) (atts map[string]string, cidLogo bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, err := message.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	atts = map[string]string{}
	var html, cid string
	err = e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		mt, _, _ := p.Header.ContentType()
		disp, dp, _ := p.Header.ContentDisposition()
		switch {
		case mt == "text/html":
			b, _ := io.ReadAll(p.Body)
			html = string(b)
		case disp == "inline" && p.Header.Get("Content-Id") != "":
			cid = strings.Trim(p.Header.Get("Content-Id"), "<>")
		case disp == "attachment":
			h := sha256.New()
			if _, err := io.Copy(h, p.Body); err != nil {
				return err
			}
			atts[dp["filename"]] = hex.EncodeToString(h.Sum(nil))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return atts, cid != "" && strings.Contains(html, "cid:"+cid)
}

func TestMailThreadsCarryTheSameAttachment(t *testing.T) {
	w, err := Generate(t.TempDir(), small())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := imaptest.ReadTree(w.Mail)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tree.Accounts()); got != small().Accounts {
		t.Fatalf("accounts = %d, want %d", got, small().Accounts)
	}
	copies := map[string]int{} // attachment content -> messages carrying it
	var msgs, logos int
	for _, acct := range tree.Accounts() {
		for _, box := range tree[acct] {
			for _, m := range box {
				atts, logo := parts(t, m.Path)
				msgs++
				if logo {
					logos++
				}
				for _, h := range atts {
					copies[h]++
				}
			}
		}
	}
	if msgs != w.Deliveries || logos != msgs {
		t.Fatalf("%d messages, %d with a cid: logo; want %d both", msgs, logos, w.Deliveries)
	}
	var repeated int
	for _, n := range copies {
		if n > 1 {
			repeated++
		}
	}
	if repeated == 0 || len(copies) == 0 {
		t.Fatalf("no attachment content is carried by more than one message (%d contents)", len(copies))
	}
}

func TestShareHasDuplicatesAndVersions(t *testing.T) {
	w, err := Generate(t.TempDir(), small())
	if err != nil {
		t.Fatal(err)
	}
	hashes := treeHashes(t, w.Share)
	distinct := map[string]bool{}
	var versioned, copies int
	for p, h := range hashes {
		distinct[h] = true
		name := filepath.Base(p)
		if strings.Contains(name, " v2") || strings.Contains(name, "_v2") || strings.Contains(name, "(v2)") {
			versioned++
		}
		if strings.HasPrefix(name, "Copy of ") || strings.Contains(name, "FINAL") {
			copies++
		}
	}
	if len(hashes) != w.ShareStats.Files || len(distinct) != w.ShareStats.Distinct {
		t.Fatalf("share: %d files, %d distinct; stats say %+v", len(hashes), len(distinct), w.ShareStats)
	}
	if len(distinct) >= len(hashes) || versioned == 0 || copies == 0 {
		t.Fatalf("share: %d files, %d distinct, %d second versions, %d copies", len(hashes), len(distinct), versioned, copies)
	}
}

func TestBigItemsStreamExactSizes(t *testing.T) {
	dir := t.TempDir()
	const size = 3<<20 + 17
	p, err := BigFile(dir, "big.mp4", size)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != size {
		t.Fatalf("big file: %v %v", fi, err)
	}
	p, err = BigMail(filepath.Join(dir, "mail"), "ivan", "big.mp4", size)
	if err != nil {
		t.Fatal(err)
	}
	atts, _ := parts(t, p)
	want, _ := os.ReadFile(filepath.Join(dir, "big.mp4"))
	sum := sha256.Sum256(want)
	if atts["big.mp4"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("attachment does not decode to the same bytes as the big file: %v", atts)
	}
}
