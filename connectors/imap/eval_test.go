package imap_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// TestEvalCorpus (opt-in: SYNCD_IMAP_EVAL_DIR=<gen_corpus.py output>)
// loads DIR/mail into Dovecot (or the memory server with
// SYNCD_IMAP_EVAL_SERVER=memory), scans every account and checks each mail
// occurrence of DIR/truth.json: documents are reported with the same bytes,
// noise is skipped, nothing else is reported as a document.
func TestEvalCorpus(t *testing.T) {
	dir := os.Getenv("SYNCD_IMAP_EVAL_DIR")
	if dir == "" {
		t.Skip("set SYNCD_IMAP_EVAL_DIR to a gen_corpus.py output directory")
	}
	var truth struct {
		Occurrences []struct {
			Kind, SHA256 string
			Sighting     struct {
				Source, Account, Mailbox, Filename string
				UID                                uint32
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	start0 := imaptest.StartDovecot
	if os.Getenv("SYNCD_IMAP_EVAL_SERVER") == "memory" {
		start0 = imaptest.StartMemory
	}
	srv, err := start0(context.Background(), filepath.Join(dir, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Logf("loaded in %v", time.Since(start))
	start = time.Now()
	got := map[string][]string{} // account/mailbox/uid/name -> sha256s, "skip:<reason>"
	items := 0
	for _, u := range srv.Users {
		s := newSource(t, server{"eval", srv.Addr}, u, "")
		rec, _ := connectortest.Scan(t, s, nil)
		for _, p := range rec.Problems {
			t.Errorf("problem: %v", p)
		}
		for _, it := range rec.Items {
			k := fmt.Sprintf("%s/%s/%d/%s", it.Lineage.Account, it.Lineage.Mailbox, it.Lineage.UID, it.Name)
			if it.Skip != "" {
				got[k] = append(got[k], "skip:"+it.Skip)
			} else {
				items++
				rc, err := s.Open(context.Background(), it)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				io.Copy(h, rc)
				rc.Close()
				got[k] = append(got[k], hex.EncodeToString(h.Sum(nil)))
			}
		}
		s.Close()
	}
	t.Logf("scanned and read %d attachments in %v", items, time.Since(start))
	docs, noise := 0, 0
	for _, o := range truth.Occurrences {
		sg := o.Sighting
		if sg.Source != "imap" {
			continue
		}
		k := fmt.Sprintf("%s/%s/%d/%s", sg.Account, sg.Mailbox, sg.UID, sg.Filename)
		if o.Kind == "noise" {
			noise++
			if slices.ContainsFunc(got[k], func(v string) bool { return !strings.HasPrefix(v, "skip:") }) {
				t.Errorf("noise reported as a document: %s", k)
			}
			continue
		}
		docs++
		if !slices.Contains(got[k], o.SHA256) {
			t.Errorf("%s: got %q, want sha256 %s", k, got[k], o.SHA256)
		}
	}
	if items != docs {
		t.Errorf("reported %d documents, truth has %d", items, docs)
	}
	t.Logf("%d document and %d noise occurrences checked", docs, noise)
}
