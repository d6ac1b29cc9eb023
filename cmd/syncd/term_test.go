package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/workspace"
)

// rawControls are what must never reach a terminal from a name.
var rawControls = []string{"\x1b", "\x07", "\r", "\u202e", "\u2066", "\x9b", "\x00"}

func assertNoControls(t *testing.T, what, out string) {
	t.Helper()
	for _, c := range rawControls {
		if strings.Contains(out, c) {
			t.Errorf("%s prints a raw %q:\n%q", what, c, out)
		}
	}
}

func TestTermSafe(t *testing.T) {
	cases := map[string]string{
		"plain name.docx":          "plain name.docx",
		"Café 東京 ü.xlsx":           "Café 東京 ü.xlsx",
		"evil\x1b]0;owned\x07.txt": `evil\x1b]0;owned\x07.txt`,
		"a\rb\nc\td":               `a\x0db\x0ac\x09d`,
		"invoice\u202egpj.exe":     `invoice\u202egpj.exe`,
		"\u2066x\u2069\u200f":      `\u2066x\u2069\u200f`,
		"c1\u009b31m":              `c1\u009b31m`,
		"del\x7f":                  `del\u007f`,
		"bad\xff\xfe":              `bad\xff\xfe`,
		"line\u2028sep":            `line\u2028sep`,
	}
	for in, want := range cases {
		got := termSafe(in)
		if got != want {
			t.Errorf("termSafe(%q) = %q, want %q", in, got, want)
		}
		assertNoControls(t, "termSafe", got)
	}
}

// The stream form keeps the output's own lines and columns and cleans a
// sequence split across writes.
func TestTermWriterAcrossWrites(t *testing.T) {
	var b bytes.Buffer
	w := newTermWriter(&b)
	in := "a\tb\u202ec\n\x1b[2Jd\xe2"
	for i := 0; i < len(in); i++ {
		w.Write([]byte{in[i]})
	}
	w.Flush()
	if want := "a\tb\\u202ec\n\\x1b[2Jd\\xe2"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestTextLogsAreClean(t *testing.T) {
	var b bytes.Buffer
	log := newLogger(&b, "text", "info")
	log.Info("item\x1b[31m failed", "name", "x\x1b]0;t\x07\r\u202e", "err", os.ErrNotExist)
	assertNoControls(t, "a text log line", b.String())
	if !strings.Contains(b.String(), `x1b]0;t`) {
		t.Errorf("the name is not shown: %q", b.String())
	}
}

// A share file named with ESC, BEL, CR and a bidi override: `syncd
// history`, `syncd runs` and the sync summary show it escaped (issue 15,
// item 5).
func TestCLIPrintsHostileNamesEscaped(t *testing.T) {
	dir := t.TempDir()
	share := filepath.Join(dir, "share")
	os.MkdirAll(share, 0o755)
	name := "Plan\x1b]0;owned\x07\r\u202etxt.exe.txt"
	if err := os.WriteFile(filepath.Join(share, name), []byte("the plan, first draft\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	cfg := tempConfig(t, "store: {path: "+store+"}\njobs:\n  - name: j\n    workspace: w\n    sources:\n      - {name: s, type: folder, path: "+share+"}\n")
	out, code := run(t, "sync", "--config", cfg, "--progress", "none", "--log-format", "text")
	if code != 0 {
		t.Fatalf("sync: %d %s", code, out)
	}
	assertNoControls(t, "sync", out)
	out, code = run(t, "history", "--config", cfg, "Plan")
	if code != 0 {
		t.Fatalf("history: %d %s", code, out)
	}
	assertNoControls(t, "history", out)
	if !strings.Contains(out, `Plan\x1b]0;owned\x07\x0d\u202etxt.exe.txt`) {
		t.Errorf("history does not show the name escaped:\n%s", out)
	}

	ctx := context.Background()
	cat, err := workspace.Open(ctx, filepath.Join(store, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := cat.StartRun(ctx, "j", "sync")
	if err == nil {
		err = cat.FinishRun(ctx, id, workspace.StatusFailed, workspace.Counts{}, "source s: open "+name+": permission denied")
	}
	cat.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, code = run(t, "runs", "--config", cfg)
	if code != 0 {
		t.Fatalf("runs: %d %s", code, out)
	}
	assertNoControls(t, "runs", out)
	if !strings.Contains(out, `open Plan\x1b]0;owned`) {
		t.Errorf("runs does not show the error escaped:\n%s", out)
	}
	out, code = run(t, "runs", "--config", cfg, "--json")
	var rr struct{ Runs []struct{ Error string } }
	if err := json.Unmarshal([]byte(out), &rr); code != 0 || err != nil {
		t.Fatalf("runs --json: %d %v\n%s", code, err, out)
	}
	assertNoControls(t, "runs --json", out)
	if len(rr.Runs) == 0 || !strings.Contains(rr.Runs[0].Error, name) {
		t.Errorf("runs --json lost the raw error: %+v", rr.Runs)
	}
}
