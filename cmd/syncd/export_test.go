package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine"
)

// demoStore runs the demo into a temp dir and returns its config path.
func demoStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := runMain(context.Background(), []string{"demo", "--dir", dir, "--log-level", "error"}, &out, &errb); code != 0 {
		t.Fatalf("demo exit %d: %s\n%s", code, errb.String(), out.String())
	}
	return filepath.Join(dir, "syncd.yaml")
}

func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), code
}

func TestExportTreeIsSafeAndIdempotent(t *testing.T) {
	cfg := demoStore(t)
	to := filepath.Join(t.TempDir(), "tree")
	out, code := run(t, "export", "--config", cfg, "--format", "tree", "--to", to)
	if code != 0 {
		t.Fatalf("export tree: %d %s", code, out)
	}
	var mf []engine.ManifestEntry
	b, err := os.ReadFile(filepath.Join(to, "department", engine.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &mf); err != nil {
		t.Fatal(err)
	}
	latest, earlier := 0, 0
	paths := map[string]bool{}
	for _, e := range mf {
		if paths[strings.ToLower(e.Path)] {
			t.Errorf("two files at %q (case-insensitively)", e.Path)
		}
		paths[strings.ToLower(e.Path)] = true
		if e.Latest {
			latest++
		} else {
			earlier++
			if !strings.Contains(e.Path, "/.versions/") && !strings.HasPrefix(e.Path, ".versions/") {
				t.Errorf("earlier version %q not under .versions/", e.Path)
			}
		}
		if len(e.SeenAt) == 0 {
			t.Errorf("%s: no provenance", e.Path)
		}
		data, err := os.ReadFile(filepath.Join(to, "department", filepath.FromSlash(e.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256hex(data); got != e.SHA256 {
			t.Errorf("%s: content %s, manifest says %s", e.Path, got, e.SHA256)
		}
	}
	if latest == 0 || earlier == 0 {
		t.Fatalf("latest=%d earlier=%d: want both", latest, earlier)
	}
	before := storeDigest(t, to)
	out, code = run(t, "export", "--config", cfg, "--format", "tree", "--to", to)
	if code != 0 || !strings.Contains(out, "0 written") {
		t.Fatalf("re-export should write nothing: %d %s", code, out)
	}
	after := storeDigest(t, to)
	if len(before) != len(after) {
		t.Fatalf("re-export changed the tree: %d -> %d files", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("re-export changed %s", k)
		}
	}
}

func TestSafeName(t *testing.T) {
	cases := map[string]string{
		"Budget: Q3/Q4?.xlsx":              "Budget_ Q3_Q4_.xlsx",
		"CON.docx":                         "_CON.docx",
		"../../etc/passwd":                 ".._.._etc_passwd",
		"report.":                          "report",
		"  spaced  ":                       "spaced",
		"~$lock.docx":                      "_~$lock.docx",
		"":                                 "unnamed",
		"..":                               "unnamed",
		"a\x00b":                           "a_b",
		"Caf\u0065\u0301.txt":              "Caf\u00e9.txt",
		strings.Repeat("é", 200):           strings.Repeat("é", 123) + "~" + sha256hex([]byte(strings.Repeat("é", 200)))[:8],
		strings.Repeat("a", 300) + ".docx": strings.Repeat("a", 241) + "~" + sha256hex([]byte(strings.Repeat("a", 300) + ".docx"))[:8] + ".docx",
		".versions":                        "_.versions",
		".SYNCD-manifest.json":             "_.SYNCD-manifest.json",
		"COM1.tar.gz":                      "_COM1.tar.gz",
		"nul .txt":                         "_nul .txt",
		"a_vti_b":                          "a-vti-b",
		"evil\u202etxt.exe":                "evil_txt.exe",
		"desktop.ini":                      "_desktop.ini",
		"x" + "\xff" + "y.txt":             "x_y.txt",
	}
	for in, want := range cases {
		if got := engine.SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
		if got := engine.SafeName(in); len(got) > 255 || strings.ContainsAny(got, `/\:*?"<>|`) {
			t.Errorf("SafeName(%q) = %q is not safe", in, got)
		}
		if got := engine.SafeName(in); engine.SafeName(got) != got {
			t.Errorf("SafeName(%q) = %q changes again", in, got)
		}
	}
}

func TestHistoryShowAndPins(t *testing.T) {
	cfg := demoStore(t)
	out, code := run(t, "history", "--config", cfg, "Workforce Plan")
	if code != 0 || !strings.Contains(out, "seen:") || !strings.Contains(out, "from v-") {
		t.Fatalf("history show: %d\n%s", code, out)
	}
	// Split the newest version of the first document shown into its own document.
	var blob string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "v") && strings.Contains(line, "content ") {
			blob = line[strings.Index(line, "content ")+8:]
		}
		if strings.TrimSpace(line) == "" && blob != "" {
			break
		}
	}
	if len(blob) < 12 {
		t.Fatalf("no content id in:\n%s", out)
	}
	docsBefore := countDocs(t, cfg)
	out, code = run(t, "history", "--config", cfg, "--actor", "lead@example.gov.uk", "--note", "not the same paper", "split", blob)
	if code != 0 || !strings.Contains(out, "recorded split") {
		t.Fatalf("split: %d %s", code, out)
	}
	if got := countDocs(t, cfg); got != docsBefore+1 {
		t.Fatalf("documents %d -> %d after a split, want +1", docsBefore, got)
	}
	// A later sync's rebuild keeps the correction: rebuild again directly.
	out, code = run(t, "history", "--config", cfg, "merge", blob, blob)
	if code != 0 {
		t.Fatalf("merge with itself: %d %s", code, out)
	}
	if _, code := run(t, "history", "--config", cfg, "split", "zz"); code != exitUsage {
		t.Errorf("a short content id should be a usage error, got %d", code)
	}
}

func countDocs(t *testing.T, cfg string) int {
	t.Helper()
	out, code := run(t, "export", "--config", cfg, "--format", "json")
	if code != 0 {
		t.Fatalf("export: %d %s", code, out)
	}
	var doc struct {
		Documents []json.RawMessage `json:"documents"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	return len(doc.Documents)
}

func TestVerifyFindsCorruptionAndGC(t *testing.T) {
	cfg := demoStore(t)
	if out, code := run(t, "verify", "--config", cfg); code != 0 {
		t.Fatalf("verify of a fresh store: %d %s", code, out)
	}
	store := filepath.Join(filepath.Dir(cfg), "store")
	// An orphan blob (as left by a crash between write and commit).
	orphan := filepath.Join(store, "blobs", "ab", "abcd"+strings.Repeat("0", 60))
	os.MkdirAll(filepath.Dir(orphan), 0o755)
	os.WriteFile(orphan, []byte("x"), 0o644)
	out, code := run(t, "verify", "--config", cfg)
	if code != exitProblems || !strings.Contains(out, "unreferenced blob") {
		t.Fatalf("verify with an orphan: %d %s", code, out)
	}
	out, code = run(t, "verify", "--config", cfg, "--gc")
	if code != exitProblems && !strings.Contains(out, "removed 1") {
		t.Fatalf("verify --gc: %d %s", code, out)
	}
	// The orphan's content does not match its name: gc still removes it
	// (it is unreferenced); the corruption is reported.
	if _, err := os.Stat(orphan); err == nil {
		t.Fatal("gc left the orphan")
	}
	// Corrupt a referenced blob.
	var victim string
	filepath.WalkDir(filepath.Join(store, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && victim == "" {
			victim = p
		}
		return nil
	})
	os.WriteFile(victim, []byte("tampered"), 0o644)
	out, code = run(t, "verify", "--config", cfg)
	if code != exitProblems || !strings.Contains(out, "does not match") {
		t.Fatalf("verify with a tampered blob: %d %s", code, out)
	}
}

// One damaged blob in a real store: the tree export names the document,
// version and blob, exports everything else and exits 1 (issue 14, item 6).
func TestExportTreeDamagedBlobExitsProblems(t *testing.T) {
	cfg := demoStore(t)
	store := filepath.Join(filepath.Dir(cfg), "store")
	var victim string
	filepath.WalkDir(filepath.Join(store, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) == 64 && victim == "" {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no blob in the demo store")
	}
	if err := os.WriteFile(victim, []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Base(victim)
	to := filepath.Join(t.TempDir(), "tree")
	out, code := run(t, "export", "--config", cfg, "--format", "tree", "--to", to)
	if code != exitProblems {
		t.Fatalf("export with a damaged blob: exit %d, want %d\n%s", code, exitProblems, out)
	}
	var problem string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "problem: ") {
			if problem != "" {
				t.Errorf("more than one problem:\n%s", out)
			}
			problem = l
		}
	}
	if !strings.Contains(problem, "document d-") || !strings.Contains(problem, "version v-") || !strings.Contains(problem, "blob "+blob) || !strings.Contains(problem, "damaged") {
		t.Errorf("the problem does not name document, version and blob %s:\n%s", blob, out)
	}
	var mf []engine.ManifestEntry
	b, err := os.ReadFile(filepath.Join(to, "department", engine.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &mf); err != nil || len(mf) < 10 {
		t.Fatalf("manifest of %d entries (%v): the rest was not exported", len(mf), err)
	}
	for _, e := range mf {
		if e.SHA256 == blob {
			t.Errorf("the damaged blob is in the manifest at %s", e.Path)
		}
	}
}
