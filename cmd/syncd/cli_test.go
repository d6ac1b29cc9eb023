package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// runOut runs a command line through runMain, keeping stdout and stderr
// apart.
func runOut(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// GNU-style flags go anywhere on the line, the old single-dash long flags
// still work, and `--` ends the flags.
func TestFlagsAnywhere(t *testing.T) {
	cfg := demoStore(t)
	st, err := openStore(t.Context(), engine.StoreConfig{Path: filepath.Join(filepath.Dir(cfg), "store")})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := richestDocument(t.Context(), st)
	st.Close()
	doc := d.Name
	if doc == "" {
		t.Fatal("the demo store has no document")
	}
	for _, args := range [][]string{
		{"history", doc, "--config", cfg},
		{"history", "--config", cfg, doc},
		{"history", doc, "--config=" + cfg, "--note", "x"},
		{"history", "-config", cfg, doc},
		{"history", "--config", cfg, "--", doc},
	} {
		out, errb, code := runOut(t, t.Context(), args...)
		if code != exitOK || !strings.Contains(out, "versions") {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errb)
		}
	}
	out, errb, code := runOut(t, t.Context(), "export", "--format=json", "-config="+cfg)
	var export map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &export) != nil {
		t.Errorf("export --format=json -config=F: exit %d\n%.300s%s", code, out, errb)
	}
	// A single-dash word that is a flag's value stays a value.
	if _, errb, code := runOut(t, t.Context(), "history", "--config", cfg, "--note", "-config", doc); code != exitOK {
		t.Errorf("--note -config: exit %d\n%s", code, errb)
	}
}

func TestHelpAndCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"sync", "plan", "run", "runs", "report", "export", "history", "verify", "demo", "version", "completion"}},
		{[]string{"--help"}, []string{"Available Commands"}},
		{[]string{"help", "history"}, []string{"syncd history merge BLOB BLOB...", "--actor", "--config"}},
		{[]string{"history", "-h"}, []string{"syncd history relink", "--note"}},
		{[]string{"sync", "--help"}, []string{"--progress", "--job", "$SYNCD_CONFIG"}},
		{[]string{"run", "-help"}, []string{"--listen", "--stop-timeout", "--token-file"}},
		{[]string{"completion", "bash"}, []string{"__start_syncd"}},
		{[]string{"completion", "zsh"}, []string{"#compdef syncd"}},
		{[]string{"completion", "fish"}, []string{"complete -c syncd"}},
		{[]string{"completion", "powershell"}, []string{"Register-ArgumentCompleter"}},
		{[]string{"__complete", "sync", "--progress", ""}, []string{"auto", "bar", "log", "none"}},
	} {
		out, errb, code := runOut(t, t.Context(), c.args...)
		if code != exitOK {
			t.Errorf("%q: exit %d\n%s", c.args, code, errb)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: no %q in:\n%.2000s", c.args, w, out)
			}
		}
	}
	// --job completes with the config's jobs.
	cfg := tempConfig(t, reloadB)
	out, _, code := runOut(t, t.Context(), "__complete", "sync", "--config", cfg, "--job", "")
	if code != exitOK || !contains(out, "beta\n", "gamma\n") {
		t.Errorf("job completion: exit %d\n%s", code, out)
	}
	// No command: the usage, on stderr, exit 2.
	out, errb, code := runOut(t, t.Context())
	if code != exitUsage || out != "" || !strings.Contains(errb, "Available Commands") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr:\n%s", code, out, errb)
	}
}

// useConfigPlaces points the config search at a fresh directory: the
// working directory and the system path are both in it.
func useConfigPlaces(t *testing.T) (dir, system string) {
	t.Helper()
	dir = t.TempDir()
	t.Chdir(dir)
	old := systemConfig
	systemConfig = filepath.Join(dir, "etc", "syncd.yaml")
	t.Cleanup(func() { systemConfig = old })
	t.Setenv(configEnv, "")
	return dir, systemConfig
}

// storeConfig writes a config whose store is named name, so that `runs`
// says which config it read ("no store at .../name").
func storeConfig(t *testing.T, path, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "store: {path: ./"+name+"}\njobs:\n  - name: j\n    sources: [{name: s, type: testmem, files: 1}]\n")
}

func TestConfigDiscovery(t *testing.T) {
	dir, system := useConfigPlaces(t)
	used := func() string {
		t.Helper()
		out, errb, code := runOut(t, t.Context(), "runs")
		if code != exitOK {
			t.Fatalf("runs: exit %d\n%s%s", code, out, errb)
		}
		_, store, _ := strings.Cut(strings.TrimSpace(out), "no runs yet: no store at ")
		return filepath.Base(store)
	}

	// Nowhere: a usage error naming every place looked.
	out, errb, code := runOut(t, t.Context(), "runs")
	if code != exitUsage || !contains(errb, "--config", "$"+configEnv, "./syncd.yaml", system) {
		t.Errorf("no config anywhere: exit %d\n%s%s", code, out, errb)
	}
	// Commands without a config still run.
	if _, errb, code := runOut(t, t.Context(), "version"); code != exitOK {
		t.Errorf("version without a config: exit %d\n%s", code, errb)
	}

	storeConfig(t, system, "system")
	if got := used(); got != "system" {
		t.Errorf("with only %s: used %q", system, got)
	}
	storeConfig(t, filepath.Join(dir, "syncd.yaml"), "cwd")
	if got := used(); got != "cwd" {
		t.Errorf("with ./syncd.yaml: used %q", got)
	}
	env := filepath.Join(dir, "env.yaml")
	storeConfig(t, env, "env")
	t.Setenv(configEnv, env)
	if got := used(); got != "env" {
		t.Errorf("with $%s: used %q", configEnv, got)
	}
	flag := filepath.Join(dir, "flag.yaml")
	storeConfig(t, flag, "flag")
	out, errb, code = runOut(t, t.Context(), "runs", "--config", flag)
	if code != exitOK || !strings.Contains(out, filepath.Join(dir, "flag")) {
		t.Errorf("--config beats $%s: exit %d\n%s%s", configEnv, code, out, errb)
	}
	// $SYNCD_CONFIG naming a missing file is that file's error, not a
	// silent fall back to ./syncd.yaml.
	t.Setenv(configEnv, filepath.Join(dir, "missing.yaml"))
	out, errb, code = runOut(t, t.Context(), "runs")
	if code != exitUsage || !strings.Contains(errb, "missing.yaml") {
		t.Errorf("$%s missing: exit %d\n%s%s", configEnv, code, out, errb)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	cfgText := func(store, src string) string {
		return "store: {path: " + store + "}\njobs:\n  - name: j\n    sources: [{name: " + src + "}]\n"
	}
	cfg := func(name, text string) string {
		p := filepath.Join(dir, name+".yaml")
		writeFile(t, p, text)
		return p
	}
	ok := cfg("ok", cfgText("./ok", "ok, type: testmem, files: 3"))
	problems := cfg("problems", cfgText("./problems", "pr, type: testmem, files: 3, broken: 1"))
	locked := cfg("locked", cfgText("./locked", "lk, type: testmem, files: 3"))
	writeFile(t, filepath.Join(dir, "a-file"), "not a directory")
	unreachable := cfg("unreachable", cfgText("./a-file/store", "un, type: testmem, files: 3"))
	blocking := cfg("blocking", cfgText("./blocking", "exitblock, type: testmem, files: 30, block_after: 5"))

	// Another live process (another host) holds the job's lock.
	cat, err := workspace.Open(t.Context(), filepath.Join(dir, "locked", "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Lock(t.Context(), "job:j", "otherhost.example:4242", time.Hour); err != nil {
		t.Fatal(err)
	}
	cat.Close()

	for _, c := range []struct {
		args []string
		want int
		say  string
	}{
		{[]string{"sync", "--config", ok, "--progress", "none"}, exitOK, ""},
		{[]string{"sync", "--config", problems, "--progress", "none"}, exitProblems, "finished with problems"},
		{[]string{"nosuch"}, exitUsage, `unknown command "nosuch"`},
		{[]string{"sync", "--nosuch"}, exitUsage, "unknown flag: --nosuch"},
		{[]string{"runs", "--config", ok, "--limit", "many"}, exitUsage, "--limit"},
		{[]string{"runs", "--config", ok, "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"sync", "--config", filepath.Join(dir, "none.yaml")}, exitUsage, "none.yaml"},
		{[]string{"sync", "--config", ok, "--job", "nosuch"}, exitUsage, "nosuch"},
		{[]string{"sync", "--config", locked, "--progress", "none"}, exitStore, "otherhost.example:4242"},
		{[]string{"sync", "--config", unreachable, "--progress", "none"}, exitStore, "a-file"},
	} {
		out, errb, code := runOut(t, t.Context(), c.args...)
		if code != c.want || !strings.Contains(errb, c.say) {
			t.Errorf("%q: exit %d, want %d and %q in stderr:\n%s%s", c.args, code, c.want, c.say, out, errb)
		}
	}

	// Interrupted (SIGINT/SIGTERM cancel main's context) mid-run: 130,
	// and the same command then resumes and finishes.
	resetGate("exitblock")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	var errb syncBuf
	go func() {
		done <- runMain(ctx, []string{"sync", "--config", blocking, "--progress", "none"}, &syncBuf{}, &errb)
	}()
	select {
	case <-gateFor("exitblock"):
	case code := <-done:
		t.Fatalf("sync ended (exit %d) before it blocked:\n%s", code, errb.String())
	}
	cancel()
	if code := <-done; code != exitInterrupted || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("interrupted sync: exit %d, want %d\n%s", code, exitInterrupted, errb.String())
	}
	writeFile(t, blocking, cfgText("./blocking", "exitblock, type: testmem, files: 30"))
	if out, errb, code := runOut(t, t.Context(), "sync", "--config", blocking, "--progress", "none"); code != exitOK {
		t.Errorf("resumed sync: exit %d\n%s%s", code, out, errb)
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/syncd/syncd", Version: "v1.4.2"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-05-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := formatVersion("dev", bi)
	for _, w := range []string{"syncd v1.4.2\n", "revision  0123456789abcdef0123456789abcdef01234567 (modified)\n", "committed 2026-05-01T10:00:00Z\n", "go        go1.26.0 "} {
		if !strings.Contains(got, w) {
			t.Errorf("no %q in:\n%s", w, got)
		}
	}
	bi.Settings[3].Value = "false"
	if got := formatVersion("v2.0.0-rc1", bi); !strings.HasPrefix(got, "syncd v2.0.0-rc1\n") || strings.Contains(got, "modified") {
		t.Errorf("-X main.version and a clean tree:\n%s", got)
	}
	if got := formatVersion("dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}); !strings.HasPrefix(got, "syncd dev\n") || strings.Contains(got, "revision") {
		t.Errorf("a build without VCS info:\n%s", got)
	}
	if got := formatVersion("dev", nil); !strings.HasPrefix(got, "syncd dev\n") {
		t.Errorf("no build info:\n%s", got)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, errb, code := runOut(t, t.Context(), args...)
		if code != exitOK || !strings.HasPrefix(out, "syncd ") || !strings.Contains(out, "  go ") {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errb)
		}
	}
}
