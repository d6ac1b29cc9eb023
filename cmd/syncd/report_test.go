package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/engine/report/headless"
	"github.com/syncd/syncd/fixtures"
	"github.com/syncd/syncd/workspace"
)

// repEnv is the demo corpus served by the in-process IMAP and Graph
// servers, plus a folder source, with a config pointing at a temp store.
type repEnv struct {
	corpus, store, cfg string
}

func newRepEnv(t *testing.T) *repEnv {
	t.Helper()
	dir := t.TempDir()
	e := &repEnv{corpus: filepath.Join(dir, "corpus"), store: filepath.Join(dir, "store"), cfg: filepath.Join(dir, "syncd.yaml")}
	if err := fixtures.ExtractDemo(e.corpus); err != nil {
		t.Fatal(err)
	}
	srv, err := startDemoServers(context.Background(), e.corpus, "memory")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	if err := os.WriteFile(e.cfg, []byte(srv.config(e.corpus, e.store)), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// syncd runs one command in-process and returns stdout, stderr and the
// exit code.
func (e *repEnv) syncd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// addShareFiles changes the share after the first sync: new files, a
// duplicate of one of them, and a copy of content already stored.
func (e *repEnv) addShareFiles(t *testing.T) {
	t.Helper()
	share := filepath.Join(e.corpus, "share")
	var existing string
	_ = filepath.WalkDir(share, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && existing == "" {
			existing = p
		}
		return err
	})
	old, err := os.ReadFile(existing)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"Plan Review/Notes v1.txt":          []byte("notes of the plan review, first draft\n"),
		"Plan Review/Notes v2.txt":          []byte("notes of the plan review, second draft with actions\n"),
		"Plan Review/Copy of Notes v2.txt":  []byte("notes of the plan review, second draft with actions\n"),
		"Plan Review/Copied from elsewhere": old,
	}
	for name, b := range files {
		p := filepath.Join(share, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func decodePlan(t *testing.T, b []byte) *report.Report {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("plan.json: %v\n%.300s", err, b)
	}
	if r.FormatVersion != report.FormatVersion {
		t.Fatalf("format_version %d, want %d", r.FormatVersion, report.FormatVersion)
	}
	return &r
}

// itemKeys are the items' source, ref, action and size, sorted.
func itemKeys(r *report.Report) []string {
	var out []string
	for _, it := range r.Items.Top { // read back from plan.json: all of them
		out = append(out, fmt.Sprintf("%s|%s|%s|%d", it.Source, it.Ref, it.Action, it.Size))
	}
	slices.Sort(out)
	return out
}

var docIDs = regexp.MustCompile(`d-[0-9a-f]{16}`)

// TestPlanChangesNothingThenSyncMatches: on a store that already holds a
// first sync, `plan` leaves every byte of the store alone, writes the same
// stable plan twice, and the sync that follows does exactly what the plan
// said: the same counts and the same action for every item.
func TestPlanChangesNothingThenSyncMatches(t *testing.T) {
	e := newRepEnv(t)
	if _, stderr, code := e.syncd(t, "sync", "--config", e.cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("first sync: exit %d\n%s", code, stderr)
	}
	e.addShareFiles(t)
	before := storeDigest(t, e.store)
	outDir := filepath.Join(t.TempDir(), "plan")
	stdout, stderr, code := e.syncd(t, "plan", "--config", e.cfg, "--log-level", "error", "--out", outDir, "--format", "json")
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	if after := storeDigest(t, e.store); !sameDigest(before, after) {
		t.Fatalf("plan changed the store:\nbefore %v\nafter  %v", before, after)
	}
	if !strings.Contains(stderr, "scanned") {
		t.Errorf("with --format the summary belongs on stderr; stderr:\n%s", stderr)
	}
	plan := decodePlan(t, []byte(stdout))
	for _, f := range []string{report.FileHTML, report.FileJSON, report.FileItems, report.FileDocuments} {
		if _, err := os.Stat(filepath.Join(outDir, f)); err != nil {
			t.Errorf("--out: %v", err)
		}
	}
	// Notes v1 and v2 are new; the copy of v2 and the copy of a stored
	// file are duplicates.
	if tt := plan.Totals; tt.New != 2 || tt.Duplicate != 2 || tt.DistinctBlobs != 3 {
		t.Errorf("plan totals %+v, want 2 new, 2 duplicates, 3 distinct contents for the files added", tt)
	}
	again, _, _ := e.syncd(t, "plan", "--config", e.cfg, "--log-level", "error", "--format", "json")
	stable := func(s string) string {
		r := decodePlan(t, []byte(s)).WithoutVolatile()
		var b bytes.Buffer
		if err := report.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		return docIDs.ReplaceAllString(b.String(), "d-*")
	}
	if stable(stdout) != stable(again) {
		t.Error("two plans of the same sources and store differ")
	}
	if _, stderr, code := e.syncd(t, "sync", "--config", e.cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("sync: exit %d\n%s", code, stderr)
	}
	done, _, code := e.syncd(t, "report", "--config", e.cfg, "--format", "json")
	if code != exitOK {
		t.Fatalf("report: exit %d", code)
	}
	got := decodePlan(t, []byte(done))
	if got.Kind != "run" || plan.Kind != "plan" {
		t.Errorf("kinds %q and %q, want run and plan", got.Kind, plan.Kind)
	}
	if got.Totals != plan.Totals {
		t.Errorf("sync totals differ from the plan's:\n plan %+v\n sync %+v", plan.Totals, got.Totals)
	}
	if a, b := itemKeys(plan), itemKeys(got); !slices.Equal(a, b) {
		t.Errorf("sync items differ from the plan's:\n plan %v\n sync %v", a, b)
	}
	checkRunCounts(t, e.store, plan)
}

// checkRunCounts compares the sync's own run record with the plan.
func checkRunCounts(t *testing.T, store string, plan *report.Report) {
	t.Helper()
	ctx := context.Background()
	cat, err := workspace.Open(ctx, catalogPath(store), workspace.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	runs, err := cat.Runs(ctx, "", 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	c := runs[0].Counts
	want := workspace.Counts{Scanned: plan.Totals.Seen, Known: plan.Totals.Known, New: plan.Totals.New,
		Duplicate: plan.Totals.Duplicate, Skipped: plan.Totals.Skipped, Problems: plan.Totals.Problems}
	got := workspace.Counts{Scanned: c.Scanned, Known: c.Known, New: c.New, Duplicate: c.Duplicate, Skipped: c.Skipped, Problems: c.Problems}
	if got.String() != want.String() {
		t.Errorf("sync run counted %v, the plan said %v", got, want)
	}
}

func sameDigest(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReportFlags: bad flag combinations are usage errors naming the flag.
func TestReportFlags(t *testing.T) {
	e := newRepEnv(t)
	cases := map[string][]string{
		"give --out":    {"report", "--config", e.cfg},
		`"xml"`:         {"report", "--config", e.cfg, "--format", "xml"},
		"plan --format": {"plan", "--config", e.cfg, "--format", "pdf"},
	}
	for want, args := range cases {
		_, stderr, code := e.syncd(t, args...)
		if code != exitUsage || !strings.Contains(stderr, strings.TrimPrefix(want, "plan ")) {
			t.Errorf("%v: exit %d, stderr %q; want usage error mentioning %s", args, code, stderr, want)
		}
	}
}

// TestDemoReportInChromium: `syncd demo` writes report.html and prints its
// path; the page opens in headless Chromium with no request but itself
// and no console or log error. SYNCD_REPORT_SCREENSHOT=file.png keeps a
// screenshot (docs/report-demo.png is made this way).
func TestDemoReportInChromium(t *testing.T) {
	if _, err := headless.Browser(); errors.Is(err, headless.ErrNoBrowser) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := runMain(context.Background(), []string{"demo", "--dir", dir}, &out, &errb); code != exitOK {
		t.Fatalf("demo: exit %d\n%s", code, errb.String())
	}
	page := filepath.Join(dir, "report", report.FileHTML)
	if !strings.Contains(out.String(), page) {
		t.Errorf("demo output does not name %s:\n%s", page, out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opt := headless.Options{Eval: `document.querySelectorAll(".doc").length`, Screenshot: os.Getenv("SYNCD_REPORT_SCREENSHOT"), MaxHeight: 2200}
	res, err := headless.Load(ctx, "file://"+page, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Requests) != 1 || res.Requests[0] != "file://"+page {
		t.Errorf("requests %v, want only the page itself", res.Requests)
	}
	if len(res.Console)+len(res.Logs)+len(res.Exceptions) > 0 {
		t.Errorf("console %v logs %v exceptions %v, want none", res.Console, res.Logs, res.Exceptions)
	}
	if string(res.Eval) == "0" {
		t.Error("the demo report shows no documents")
	}
	rows, err := csv.NewReader(bytes.NewReader(mustRead(t, filepath.Join(dir, "report", report.FileItems)))).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("items.csv: %d rows, %v", len(rows), err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
