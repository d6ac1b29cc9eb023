package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/pgtest"
	"github.com/syncd/syncd/workspace"
)

// worker is one `syncd sync --join` process of a cluster test.
type worker struct {
	cmd    *exec.Cmd
	holder string
	killed bool
	code   int
	out    strings.Builder
	lines  chan workerLine // its log lines, in order; closed at its end
}

type workerLine struct {
	Msg    string `json:"msg"`
	Source string `json:"source"`
	Holder string `json:"holder"`
}

func startWorker(t *testing.T, cfg string) *worker {
	t.Helper()
	w := &worker{lines: make(chan workerLine, 1024)}
	w.cmd = exec.Command(syncdBinary(t), "sync", "--join", "--config", cfg, "--log-format", "json", "--log-level", "info",
		"--progress", "log", "--progress-every", "10ms")
	w.cmd.Stdout = &w.out
	stderr, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	w.holder = fmt.Sprintf("%s:%d", host, w.cmd.Process.Pid)
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l workerLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				w.lines <- l
			}
		}
	}()
	return w
}

// until reads w's log lines until one satisfies f (true) or w's log ends.
func (w *worker) until(f func(workerLine) bool) bool {
	for l := range w.lines {
		if f(l) {
			return true
		}
	}
	return false
}

func (w *worker) kill() {
	w.cmd.Process.Signal(syscall.SIGKILL)
}

// wait drains w's log and waits for it to end.
func (w *worker) wait(t *testing.T) {
	t.Helper()
	for range w.lines {
	}
	err := w.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			w.killed = true
			return
		}
		w.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
}

// Three workers (`syncd sync --join`, as daemons do when a schedule fires
// while another runs the job) share one job of many sources on one
// PostgreSQL catalog and one S3 blob store, and are SIGKILLed: a helper
// holding a source (the others take it over), the run's holder (the next
// run starts over from the committed cursors), then one drawn at random.
// After a last round the catalog and the export equal a single process's
// clean run, verify is clean and the bucket holds each content once.
func TestWorkersShareAndSurviveKills(t *testing.T) {
	corpus := testCorpus(t, 300)
	dir := t.TempDir()
	// Three large folder sources, named to sort first: the run's holder
	// (one source at a time) takes big-1, so the helpers starting after
	// it take big-2 and big-3, and each is running a long source when
	// its kill comes.
	var bigs strings.Builder
	for i := 1; i <= 3; i++ {
		root := filepath.Join(dir, fmt.Sprintf("big-%d", i))
		for j := range 500 {
			p := filepath.Join(root, fmt.Sprintf("team%02d", j%20), fmt.Sprintf("Note %d-%d.txt", i, j))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(fmt.Sprintf("note %d of source %d\n%s", j, i, strings.Repeat("text\n", j%40))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&bigs, "      - {name: big-%d, type: folder, path: %q}\n", i, root)
	}
	// withBigs adds the large sources to a config of the demo job.
	withBigs := func(cfg string) {
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(b), "    sources:\n", "    sources:\n"+bigs.String(), 1)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refStore := filepath.Join(dir, "ref")
	refCfg := writeTestConfig(t, corpus, refStore)
	withBigs(refCfg)
	wantTree := filepath.Join(dir, "want")
	want := syncAndExport(t, refCfg, refStore, wantTree)

	dsn, s3, lines := clusterStore(t)
	cfg := writeTestConfig(t, corpus, filepath.Join(dir, "spool"))
	withBigs(cfg)
	// One source at a time per worker, so the sources spread over them.
	rewriteConfig(t, cfg, cfg, lines, "    workspace: department\n", "    workspace: department\n    parallel: 1\n")

	// round starts the run's holder, then two helpers once it has
	// started its run; victim picks the worker to kill (nil: none) and
	// at which of its progress lines.
	round := func(name string, victim func(ws []*worker) (*worker, int)) []*worker {
		t.Helper()
		first := startWorker(t, cfg)
		if !first.until(func(l workerLine) bool { return l.Msg == "run started" }) {
			first.wait(t)
			t.Fatalf("%s: the first worker started no run (exit %d):\n%s", name, first.code, first.out.String())
		}
		ws := []*worker{first, startWorker(t, cfg), startWorker(t, cfg)}
		var v *worker
		k := 0
		if victim != nil {
			v, k = victim(ws)
		}
		var wg sync.WaitGroup
		for _, w := range ws {
			if w == v {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); w.wait(t) }()
		}
		if v != nil {
			n := 0
			v.until(func(l workerLine) bool {
				if l.Msg == "progress" {
					n++
				}
				return n == k
			})
			v.kill()
			v.wait(t)
		}
		wg.Wait()
		for i, w := range ws {
			if !w.killed && w.code != exitOK {
				t.Fatalf("%s: worker %d (%s) exit %d:\n%s", name, i, w.holder, w.code, w.out.String())
			}
		}
		return ws
	}
	openCat := func() *workspace.Catalog {
		cat, err := workspace.OpenPostgres(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return cat
	}

	// 1. Kill a helper while it runs a source: another worker takes the
	// source over at once (its holder is a dead process of this host).
	var helper *worker
	round("round 1", func(ws []*worker) (*worker, int) {
		helper = ws[1]
		return ws[1], 3
	})
	if !helper.killed {
		t.Fatalf("round 1: the helper was not killed (it ran no source long enough):\n%s", helper.out.String())
	}
	cat := openCat()
	log, err := cat.AuditLog(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	takeover := false
	for _, e := range log {
		if e.Action == "unit.takeover" && e.Detail == "from "+helper.holder {
			takeover = true
		}
	}
	runs, err := cat.Runs(context.Background(), "", 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	units, err := cat.Units(context.Background(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	holders := map[string]bool{}
	for _, u := range units {
		if u.State != workspace.UnitDone {
			t.Errorf("round 1: unit %s left %s by %s", u.Name, u.State, u.Holder)
		}
		holders[u.Holder] = true
	}
	cat.Close()
	if !takeover {
		t.Errorf("round 1: no unit taken over from the killed helper %s (audit %+v)", helper.holder, log)
	}
	if len(holders) < 2 || runs[0].Status == workspace.StatusRunning {
		t.Errorf("round 1: run %d (%s) done by %d workers (%v), want the sources shared", runs[0].ID, runs[0].Status, len(holders), holders)
	}

	// 2. Kill the run's holder: the helpers finish what they can; the
	// next run starts over and marks this one interrupted.
	kills := 1
	for _, w := range round("round 2", func(ws []*worker) (*worker, int) { return ws[0], 2 }) {
		if w.killed {
			kills++
		}
	}
	// 3. Kill one drawn at random (the seed is logged to replay it).
	seed := uint64(time.Now().UnixNano())
	t.Logf("round 3 seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, w := range round("round 3", func(ws []*worker) (*worker, int) { return ws[rng.IntN(3)], 1 + rng.IntN(3) }) {
		if w.killed {
			kills++
		}
	}
	t.Logf("%d workers killed", kills)
	// 4. No kills.
	round("round 4", nil)

	if out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("final sync: exit %d\n%s", code, out)
	}
	cat = openCat()
	got := catalogContent(t, cat)
	st, err := cat.Stats(context.Background())
	cat.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the catalog after the kills differs from a clean run's (%d vs %d lines):\n%s", len(got), len(want), diffLines(want, got))
	}
	gotTree := filepath.Join(dir, "got")
	if out, code := runSyncd(t, "export", "--config", cfg, "--format", "tree", "--to", gotTree); code != exitOK {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	sameExport(t, exportContents(t, gotTree), exportContents(t, wantTree), "after the kills", "in a clean run")
	if out, code := runSyncd(t, "verify", "--config", cfg); code != exitOK {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	objects := 0
	filepath.WalkDir(filepath.Join(s3.Dir, "syncd", "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) == 64 {
			objects++
		}
		return nil
	})
	if int64(objects) != st.Blobs {
		t.Errorf("%d objects in the bucket for %d contents in the catalog", objects, st.Blobs)
	}
}

// A daemon on a shared store shows what every process holds: its
// /api/v1/cluster and /metrics list another worker's job lock and units.
// When the job's schedule fires there while the other runs it, the
// daemon joins that run and takes the source still to do.
func TestDaemonShowsAndJoinsTheCluster(t *testing.T) {
	dsn := pgtest.DSN(t)
	t.Setenv("SYNCD_TEST_PG_DSN", dsn)
	dir := t.TempDir()
	for _, s := range []string{"one", "two"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, s, "a.txt"), "content of "+s)
	}
	cfg := filepath.Join(dir, "syncd.yaml")
	writeFile(t, cfg, "store:\n  path: "+filepath.Join(dir, "store")+"\n  catalog:\n    postgres: {dsn_env: SYNCD_TEST_PG_DSN}\n"+
		"jobs:\n  - name: j\n    workspace: w\n    sources:\n"+
		"      - {name: one, type: folder, path: "+filepath.Join(dir, "one")+"}\n"+
		"      - {name: two, type: folder, path: "+filepath.Join(dir, "two")+"}\n")

	// Another worker (on another host) holds the job and runs "one".
	ctx := context.Background()
	cat, err := workspace.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	const other = "worker-b.example:77"
	if err := cat.Lock(ctx, "job:j", other, time.Hour); err != nil {
		t.Fatal(err)
	}
	run, err := cat.StartRunBy(ctx, "j", "sync", other)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.AddUnits(ctx, run, []string{"one", "two"}); err != nil {
		t.Fatal(err)
	}
	us, err := cat.Units(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := cat.ClaimUnit(ctx, us[0], other, time.Hour); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}

	td := startTestDaemon(t, cfg, nil)
	var view clusterView
	getJSON(t, td.base+"/api/v1/cluster", "", &view)
	if len(view.Locks) != 1 || view.Locks[0].Name != "job:j" || view.Locks[0].Holder != other {
		t.Errorf("cluster locks %+v", view.Locks)
	}
	if len(view.Units) != 2 || view.Units[0].Name != "one" || view.Units[0].State != workspace.UnitRunning || view.Units[0].Holder != other ||
		view.Units[1].State != workspace.UnitTodo || view.Units[0].Job != "j" {
		t.Errorf("cluster units %+v", view.Units)
	}
	fams := scrape(t, td.base, "")
	if v, ok := metric(fams, "syncd_cluster_units", "job", "j", "state", "running", "holder", other); !ok || v != 1 {
		t.Errorf("syncd_cluster_units running by %s = %v %v", other, v, ok)
	}
	if v, ok := metric(fams, "syncd_cluster_lock_expiry_timestamp_seconds", "lock", "job:j", "holder", other); !ok || v < float64(time.Now().Unix()) {
		t.Errorf("syncd_cluster_lock_expiry_timestamp_seconds of job:j = %v %v", v, ok)
	}

	// The schedule fires here: the daemon joins run and does "two".
	if code, body := do(t, "POST", td.base+"/api/v1/jobs/j/run", ""); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	eventually(t, "the daemon to do unit two", func() bool {
		us, err := cat.Units(ctx, run)
		return err == nil && us[1].State == workspace.UnitDone
	})
	us, _ = cat.Units(ctx, run)
	if us[1].Holder == other || us[1].Counts.New != 1 || us[1].Error != "" || us[0].State != workspace.UnitRunning || us[0].Holder != other {
		t.Errorf("units after the daemon joined: %+v", us)
	}
	if runs, _ := cat.Runs(ctx, "j", 10); len(runs) != 1 || runs[0].Status != workspace.StatusRunning {
		t.Errorf("the daemon started a run of its own or finished the other's: %+v", runs)
	}
}
