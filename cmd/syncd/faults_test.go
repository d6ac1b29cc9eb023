//go:build faults

// The fault suite of issue 14 (`make faults`): one multi-source job (IMAP
// on a real Dovecot, a share on a real Samba and the same files over a
// real OpenSSH SFTP server, SharePoint on the fake Graph server) run under
// ordinary faults, each result compared with a clean run's:
//
//   - SIGKILLs at random but replayable points of the runs' own progress,
//     each store resumed to completion;
//   - Dovecot, smbd and sshd stopped after the K-th item and started again
//     on the same port; the Graph fake refusing connections from its n-th
//     request, and answering 503 for a window of requests;
//   - `verify` and `verify --gc` while `sync` and while a daemon (`syncd
//     run`) writes;
//   - two processes creating a new store at once.
//
// After each fault the store must verify clean, its `export --format json`
// must equal the clean run's byte for byte (the export holds no run ids or
// run times, so no normalisation is needed), no sighting of the clean run
// may be missing (lost), none may be extra or repeated (duplicated), and
// every blob a sighting names must be present with the right content and
// the same derived rows (text sketch) as in the clean run (damaged). It
// prints one line per fault. The seed is printed; SYNCD_FAULTS_SEED=N
// replays a run's choices.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors/imap/imaptest"
	"github.com/syncd/syncd/connectors/share/sharetest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

const (
	faultJob       = "faults"
	faultSMBEnv    = "SYNCD_FAULTS_SMB_PASSWORD"
	faultKills     = 50 // SIGKILLs the kill loop must deliver
	faultKillBurst = 10 // kills per store before it is resumed to completion
	faultMailboxes = 4  // accounts of the demo mail served by Dovecot
	faultBulk      = 60 // generated share files besides the demo share's
)

// faultEnv is the servers, corpus and clean results every fault shares.
type faultEnv struct {
	top      *testing.T
	corpus   string
	shareDir string
	dovecot  *imaptest.Dovecot
	samba    *sharetest.Samba
	sftp     *sharetest.SFTP
	graph    *graphfake.Server
	gate     *graphfake.Gate
	sites    []string
	seed     uint64
	rng      *rand.Rand

	cleanExport   []byte
	clean         storeFacts
	cleanLines    int              // progress lines of the clean run
	cleanScanned  map[string]int64 // items scanned per source kind in the clean run
	cleanRequests int              // Graph requests of the clean run
	sources       []string         // the job's source names
}

// faultLine is one fault's result.
type faultLine struct {
	name                    string
	kills, runs             int
	lost, dup, damaged      int
	verifyBad, verifyDuring int
	exportDiffs             int // stores whose export differs from the clean run's
	errors                  int // processes that failed with anything but a clear "locked"
	note                    string
}

func (f faultLine) String() string {
	s := fmt.Sprintf("fault %-23s kills=%-2d runs-compared=%-2d lost=%d duplicated=%d damaged=%d verify-problems=%d export-differs=%d",
		f.name, f.kills, f.runs, f.lost, f.dup, f.damaged, f.verifyBad, f.exportDiffs)
	if f.errors > 0 {
		s += fmt.Sprintf(" errors=%d", f.errors)
	}
	if f.verifyDuring > 0 {
		s += fmt.Sprintf(" verifies-in-flight=%d", f.verifyDuring)
	}
	if f.note != "" {
		s += " (" + f.note + ")"
	}
	return s
}

func faultStream(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

func (f faultLine) bad() bool { return f.lost+f.dup+f.damaged+f.verifyBad+f.exportDiffs+f.errors > 0 }

func TestFaults(t *testing.T) {
	e := startFaultEnv(t)
	var lines []faultLine
	run := func(name string, f func(t *testing.T) faultLine) {
		var fl faultLine
		// Each fault draws from its own stream, so one fault replays
		// alone: SYNCD_FAULTS_SEED=N go test -tags faults -run TestFaults/NAME.
		e.rng = rand.New(rand.NewPCG(e.seed, faultStream(name)))
		ok := t.Run(name, func(t *testing.T) {
			fl = f(t)
			if fl.bad() {
				t.Errorf("%s", fl)
			}
		})
		if fl.name == "" {
			fl.name = name
		}
		if !ok && !fl.bad() {
			fl.note = strings.TrimSpace(fl.note + " FAILED")
		}
		lines = append(lines, fl)
		fmt.Println(fl)
	}
	run("clean-repeat", e.cleanRepeat)
	run("sigkill", e.killLoop)
	run("dovecot-restart", func(t *testing.T) faultLine {
		return e.outage(t, "dovecot-restart", "imap", e.dovecot.Halt, func() {
			if err := e.dovecot.Restart(context.Background()); err != nil {
				t.Fatalf("restart dovecot: %v", err)
			}
		})
	})
	run("smbd-restart", func(t *testing.T) faultLine {
		return e.outage(t, "smbd-restart", "smb", e.samba.Stop, func() { e.samba.Restart(e.top) })
	})
	run("sshd-restart", func(t *testing.T) faultLine {
		return e.outage(t, "sshd-restart", "sftp", e.sftp.Stop, func() { e.sftp.Restart(e.top) })
	})
	run("graph-refused", e.graphRefused)
	run("graph-503", e.graph503)
	run("verify-during-sync", func(t *testing.T) faultLine { return e.verifyDuringSync(t, false) })
	run("verify-gc-during-sync", func(t *testing.T) faultLine { return e.verifyDuringSync(t, true) })
	run("verify-during-daemon", func(t *testing.T) faultLine { return e.verifyDuringDaemon(t, false) })
	run("verify-gc-during-daemon", func(t *testing.T) faultLine { return e.verifyDuringDaemon(t, true) })
	run("new-store-race", e.newStoreRace)

	fmt.Printf("faults: seed=%d (replay: SYNCD_FAULTS_SEED=%d make faults)\n", e.seed, e.seed)
	for _, l := range lines {
		fmt.Println(l)
	}
}

// startFaultEnv starts the servers on one corpus (the demo corpus plus
// generated share files) and records a clean run.
func startFaultEnv(t *testing.T) *faultEnv {
	e := &faultEnv{top: t, cleanScanned: map[string]int64{}}
	e.seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("SYNCD_FAULTS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNCD_FAULTS_SEED=%q: %v", s, err)
		}
		e.seed = n
	}
	fmt.Printf("faults: seed=%d\n", e.seed)

	// Small enough that the suite fits its budget: a few hundred items.
	e.corpus = testCorpus(t, faultBulk)
	accounts, err := os.ReadDir(filepath.Join(e.corpus, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts[min(faultMailboxes, len(accounts)):] {
		if err := os.RemoveAll(filepath.Join(e.corpus, "mail", a.Name())); err != nil {
			t.Fatal(err)
		}
	}
	// One share directory served by smbd (as user nobody) and sshd.
	e.shareDir = sharetest.ShareDir(t)
	if err := os.CopyFS(e.shareDir, os.DirFS(filepath.Join(e.corpus, "share"))); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(e.shareDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}); err != nil {
		t.Fatal(err)
	}
	e.dovecot, err = imaptest.StartDovecotTree(context.Background(), filepath.Join(e.corpus, "mail"))
	if err != nil {
		if err == imaptest.ErrNoDovecot && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dovecot.Stop() })
	e.samba = sharetest.StartSamba(t, e.shareDir)
	e.sftp = sharetest.StartSFTP(t)
	e.graph, e.gate, err = graphfake.NewGated(filepath.Join(e.corpus, "sharepoint"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.graph.Close)
	if e.sites, err = manifestSites(filepath.Join(e.corpus, "sharepoint", "manifest.json")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(demoPasswordEnv, imaptest.Password)
	t.Setenv(demoTokenEnv, "faults-token")
	t.Setenv(faultSMBEnv, e.samba.Password)
	syncdBinary(t)

	store := filepath.Join(t.TempDir(), "clean")
	cfg := e.config(t, store)
	before := e.graph.Count(graphfake.RouteAny)
	scanned := map[string]int64{}
	start := time.Now()
	res := watchSync(t, cfg, func(pl progressLine, _ func()) {
		e.cleanLines++
		scanned[pl.Source] = pl.Scanned
	})
	if res.code != 0 {
		t.Fatalf("clean sync: exit %d\n%s", res.code, res.log)
	}
	e.cleanRequests = e.graph.Count(graphfake.RouteAny) - before
	for src, n := range scanned {
		e.cleanScanned[sourceKind(src)] += n
		e.sources = append(e.sources, src)
	}
	e.cleanExport = exportJSON(t, cfg)
	e.clean = readStore(t, store)
	fmt.Printf("faults: clean run %v: %d sightings, %d progress lines, scanned per kind %v, %d Graph requests\n",
		time.Since(start).Round(time.Millisecond), len(e.clean.sightings), e.cleanLines, e.cleanScanned, e.cleanRequests)
	if len(e.clean.sightings) < 200 {
		t.Fatalf("the clean run stored only %d sightings: the corpus proves too little", len(e.clean.sightings))
	}
	return e
}

// config writes the fault job's config with its store at store.
func (e *faultEnv) config(t *testing.T, store string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "store:\n  path: %q\njobs:\n  - name: %s\n    workspace: %s\n    sources:\n", store, faultJob, faultJob)
	fmt.Fprintf(&b, "      - name: smb\n        type: share\n        remote: %q\n        password_env: %s\n", e.samba.Remote(""), faultSMBEnv)
	fmt.Fprintf(&b, "      - name: sftp\n        type: share\n        remote: %q\n        key_file: %q\n", e.sftp.Remote(e.shareDir), e.sftp.KeyFile)
	for _, u := range e.dovecot.Users {
		fmt.Fprintf(&b, "      - name: %q\n        type: imap\n        address: %q\n        tls: none\n        username: %q\n        password_env: %s\n",
			"imap-"+u, e.dovecot.Addr, u, demoPasswordEnv)
	}
	for i, site := range e.sites {
		fmt.Fprintf(&b, "      - name: sharepoint-%d\n        type: sharepoint\n        site: %q\n        graph_url: %q\n        access_token_env: %s\n",
			i+1, site, e.graph.URL(), demoTokenEnv)
	}
	p := filepath.Join(t.TempDir(), "syncd.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sourceKind(source string) string {
	switch {
	case strings.HasPrefix(source, "imap-"):
		return "imap"
	case strings.HasPrefix(source, "sharepoint-"):
		return "sharepoint"
	}
	return source
}

// progressLine is a progress or "source finished" log line of a sync.
type progressLine struct {
	Msg     string `json:"msg"`
	Source  string `json:"source"`
	Scanned int64  `json:"scanned"`
}

type syncResult struct {
	code   int
	killed bool // ended by SIGKILL
	log    string
}

// watchSync runs `syncd sync` with a progress line per source every 10ms
// and calls on for each progress or "source finished" line, in order, in
// this goroutine; on may call kill to SIGKILL the process. It returns when
// the process has ended.
func watchSync(t *testing.T, cfg string, on func(pl progressLine, kill func())) syncResult {
	t.Helper()
	cmd := exec.Command(syncdBinary(t), "sync", "--config", cfg, "--log-format", "json", "--log-level", "info",
		"--progress", "log", "--progress-every", "10ms")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var res syncResult
	kill := func() {
		if !res.killed {
			res.killed = true
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	var other strings.Builder
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var pl progressLine
		if json.Unmarshal(line, &pl) == nil && (pl.Msg == "progress" || pl.Msg == "source finished") {
			if on != nil {
				on(pl, kill)
			}
			continue
		}
		if other.Len() < 32<<10 {
			other.Write(line)
			other.WriteByte('\n')
		}
	}
	err = cmd.Wait()
	res.log = other.String()
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.killed = true
		} else {
			res.killed = false
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}

func exportJSON(t *testing.T, cfg string) []byte {
	t.Helper()
	cmd := exec.Command(syncdBinary(t), "export", "--format", "json", "--config", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	return out
}

// storeFacts is what a store holds, for comparison with the clean run.
type storeFacts struct {
	sightings map[string]int    // source|ref|fingerprint|blob -> times present
	sketches  map[string]string // blob -> kind|tokens|sketch
	damaged   []string          // blobs a sighting names that are missing or wrong
}

func readStore(t *testing.T, storeDir string) storeFacts {
	t.Helper()
	ctx := context.Background()
	cat, err := workspace.Open(ctx, filepath.Join(storeDir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	blobs, err := dedupe.OpenDisk(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	f := storeFacts{sightings: map[string]int{}, sketches: map[string]string{}}
	checked := map[dedupe.ID]bool{}
	err = cat.EachSighting(ctx, func(s workspace.Sighting) error {
		f.sightings[strings.Join([]string{s.Source, s.Ref, s.Fingerprint, s.Blob.String()}, "|")]++
		if checked[s.Blob] {
			return nil
		}
		checked[s.Blob] = true
		rc, err := blobs.Open(ctx, s.Blob)
		if err != nil {
			f.damaged = append(f.damaged, fmt.Sprintf("blob %s of %s %s: %v", s.Blob.Short(), s.Source, s.Ref, err))
			return nil
		}
		sums, err := dedupe.HashReader(rc)
		rc.Close()
		if err != nil || sums.ID != s.Blob {
			f.damaged = append(f.damaged, fmt.Sprintf("blob %s of %s %s: content hashes to %s (%v)", s.Blob.Short(), s.Source, s.Ref, sums.ID.Short(), err))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := cat.DB().QueryContext(ctx, `SELECT blob_id, kind, tokens, sketch FROM blob_content`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind, sketch string
		var tokens int64
		if err := rows.Scan(&id, &kind, &tokens, &sketch); err != nil {
			t.Fatal(err)
		}
		f.sketches[id] = fmt.Sprintf("%s|%d|%x", kind, tokens, sha256hex([]byte(sketch)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return f
}

// compare checks a store after a fault against the clean run and adds to
// fl's counts: verify must be clean, the export equal, no sighting lost,
// none extra or repeated, no blob or derived row missing or wrong.
func (e *faultEnv) compare(t *testing.T, fl *faultLine, cfg, store string) {
	t.Helper()
	fl.runs++
	out, code := runSyncd(t, "verify", "--config", cfg)
	if code != 0 || !strings.Contains(out, "store is consistent") {
		n := len(verifyFindings.FindAllString(out, -1))
		if n == 0 {
			n = 1
		}
		fl.verifyBad += n
		t.Errorf("verify after the fault: exit %d\n%s", code, firstLines(out, 20))
	}
	got := readStore(t, store)
	var lost, extra []string
	for k := range e.clean.sightings {
		if got.sightings[k] == 0 {
			lost = append(lost, k)
		}
	}
	perRef := map[string]int{}
	for k, n := range got.sightings {
		if e.clean.sightings[k] == 0 {
			extra = append(extra, k)
		} else if n > 1 {
			extra = append(extra, k)
		}
		i := strings.Index(k, "|")
		j := strings.Index(k[i+1:], "|")
		perRef[k[:i+1+j]]++
	}
	for ref, n := range perRef {
		if n > 1 {
			extra = append(extra, fmt.Sprintf("%s seen %d times", ref, n))
		}
	}
	sort.Strings(lost)
	sort.Strings(extra)
	fl.lost += len(lost)
	fl.dup += len(extra)
	if len(lost) > 0 {
		t.Errorf("%d sightings of the clean run are missing, e.g.\n%s", len(lost), strings.Join(first(lost, 5), "\n"))
	}
	if len(extra) > 0 {
		t.Errorf("%d sightings are extra or repeated, e.g.\n%s", len(extra), strings.Join(first(extra, 5), "\n"))
	}
	damaged := got.damaged
	for id, want := range e.clean.sketches {
		if g, ok := got.sketches[id]; !ok {
			damaged = append(damaged, "blob "+id[:12]+": text sketch missing")
		} else if g != want {
			damaged = append(damaged, "blob "+id[:12]+": text sketch differs")
		}
	}
	fl.damaged += len(damaged)
	if len(damaged) > 0 {
		sort.Strings(damaged)
		t.Errorf("%d blobs damaged, e.g.\n%s", len(damaged), strings.Join(first(damaged, 5), "\n"))
	}
	if exp := exportJSON(t, cfg); !bytes.Equal(exp, e.cleanExport) {
		fl.exportDiffs++
		t.Errorf("export --format json differs from the clean run's:\n%s", firstDiff(e.cleanExport, exp))
	}
}

// firstDiff shows where two exports first differ, with context.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	from := max(0, i-4)
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d of %d (clean) / %d (this store)\n", i+1, len(w), len(g))
	for j := from; j < i; j++ {
		fmt.Fprintf(&b, "  %s\n", w[j])
	}
	for j := i; j < min(i+4, len(w)); j++ {
		fmt.Fprintf(&b, "- %s\n", w[j])
	}
	for j := i; j < min(i+4, len(g)); j++ {
		fmt.Fprintf(&b, "+ %s\n", g[j])
	}
	return b.String()
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func firstLines(s string, n int) string {
	return strings.Join(first(strings.Split(s, "\n"), n), "\n")
}

// cleanRepeat: a second clean run over the same sources must give the
// same export byte for byte (no fault: timing alone).
func (e *faultEnv) cleanRepeat(t *testing.T) faultLine {
	fl := faultLine{name: "clean-repeat"}
	store := filepath.Join(t.TempDir(), "store")
	cfg := e.config(t, store)
	if out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error"); code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	e.compare(t, &fl, cfg, store)
	return fl
}

// killLoop SIGKILLs syncs at the K-th progress line (K drawn from the
// seeded generator), faultKillBurst times per store, resumes each store
// to completion and compares it, until faultKills kills were delivered.
func (e *faultEnv) killLoop(t *testing.T) faultLine {
	fl := faultLine{name: "sigkill"}
	for cycle := 0; fl.kills < faultKills; cycle++ {
		if cycle >= 3*faultKills/faultKillBurst {
			t.Fatalf("only %d kills delivered in %d stores: the runs finish before their kill points", fl.kills, cycle)
		}
		store := filepath.Join(t.TempDir(), fmt.Sprintf("store%d", cycle))
		cfg := e.config(t, store)
		for i := 0; i < faultKillBurst; i++ {
			k := 1 + e.rng.IntN(max(1, e.cleanLines/(i+2)))
			n := 0
			res := watchSync(t, cfg, func(_ progressLine, kill func()) {
				if n++; n == k {
					kill()
				}
			})
			if !res.killed {
				if res.code != 0 {
					t.Fatalf("store %d: a run that was not killed exited %d:\n%s", cycle, res.code, res.log)
				}
				break // it finished before its kill point
			}
			fl.kills++
		}
		if out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error"); code != 0 {
			t.Errorf("store %d: resumed sync exit %d:\n%s", cycle, code, firstLines(out, 20))
		}
		e.compare(t, &fl, cfg, store)
	}
	return fl
}

// outageWindow decides when a stopped server starts again: once every
// source of the other kinds has finished (a long outage as the run sees
// it, and a run that waits for the server is not left waiting for ever),
// or when the run has ended.
type outageWindow struct{ pending map[string]bool }

func (e *faultEnv) window(kind string) *outageWindow {
	w := &outageWindow{pending: map[string]bool{}}
	for _, src := range e.sources {
		if sourceKind(src) != kind {
			w.pending[src] = true
		}
	}
	return w
}

// othersDone records pl and reports whether the other sources are done.
func (w *outageWindow) othersDone(pl progressLine) bool {
	if pl.Msg == "source finished" {
		delete(w.pending, pl.Source)
	}
	return len(w.pending) == 0
}

// outage stops one server after the K-th item of its sources (K drawn
// from the seeded generator), starts it again on the same port when the
// other sources have finished or the run has ended, then syncs twice; the
// last sync must exit 0 and the store equal the clean run's.
func (e *faultEnv) outage(t *testing.T, name, kind string, stop, start func()) faultLine {
	fl := faultLine{name: name}
	total := e.cleanScanned[kind]
	if total < 2 {
		t.Fatalf("the clean run scanned %d %s items", total, kind)
	}
	var cfg, store string
	delivered := false
	for attempt := 0; attempt < 4 && !delivered; attempt++ {
		k := 1 + e.rng.Int64N(max(1, total/int64(2<<attempt)))
		store = filepath.Join(t.TempDir(), fmt.Sprintf("store%d", attempt))
		cfg = e.config(t, store)
		scanned := map[string]int64{}
		win := e.window(kind)
		restarted := false
		res := watchSync(t, cfg, func(pl progressLine, _ func()) {
			others := win.othersDone(pl)
			if delivered && !restarted && others {
				start()
				restarted = true
			}
			if sourceKind(pl.Source) != kind || delivered {
				return
			}
			scanned[pl.Source] = pl.Scanned
			var sum int64
			for _, n := range scanned {
				sum += n
			}
			if sum >= k && pl.Msg == "progress" {
				stop()
				delivered = true
				fl.note = fmt.Sprintf("stopped after item %d", sum)
			}
		})
		if delivered && !restarted {
			start()
		}
		if !delivered {
			t.Logf("attempt %d: the %s sources finished before item %d; again with a smaller K", attempt, kind, k)
			continue
		}
		t.Logf("faulted run exit %d", res.code)
	}
	if !delivered {
		t.Fatalf("the %s outage was never delivered", kind)
	}
	e.resyncAndCompare(t, &fl, cfg, store)
	return fl
}

// resyncAndCompare runs the two syncs after an outage and compares.
func (e *faultEnv) resyncAndCompare(t *testing.T, fl *faultLine, cfg, store string) {
	t.Helper()
	var out string
	var code int
	for i := 0; i < 2; i++ {
		out, code = runSyncd(t, "sync", "--config", cfg, "--log-level", "warn")
	}
	if code != 0 {
		runs, _ := runSyncd(t, "runs", "--config", cfg)
		t.Errorf("second sync after the outage: exit %d\n%s\nsyncd runs:\n%s", code, firstLines(out, 20), firstLines(runs, 40))
	}
	e.compare(t, fl, cfg, store)
}

// graphRefused: the Graph fake stops listening at its n-th request (n
// drawn from the seeded generator) and listens again when the other
// sources have finished or the run has ended.
func (e *faultEnv) graphRefused(t *testing.T) faultLine {
	fl := faultLine{name: "graph-refused"}
	n := e.rng.IntN(max(1, e.cleanRequests-1))
	store := filepath.Join(t.TempDir(), "store")
	cfg := e.config(t, store)
	tripped := e.gate.RefuseAfter(n)
	restarted := false
	restart := func() {
		if err := e.graph.Accept(); err != nil {
			t.Fatal(err)
		}
		restarted = true
	}
	win := e.window("sharepoint")
	watchSync(t, cfg, func(pl progressLine, _ func()) {
		if win.othersDone(pl) && !restarted {
			select {
			case <-tripped:
				restart()
			default:
			}
		}
	})
	select {
	case <-tripped:
		fl.note = fmt.Sprintf("refused from request %d", n+1)
	default:
		t.Fatalf("the Graph fake served fewer than %d requests: the outage was not delivered", n+1)
	}
	if !restarted {
		restart()
	}
	e.resyncAndCompare(t, &fl, cfg, store)
	return fl
}

// graph503: the Graph fake answers 503 (Retry-After: 0) to a window of
// requests starting at the n-th.
func (e *faultEnv) graph503(t *testing.T) faultLine {
	fl := faultLine{name: "graph-503"}
	n := e.rng.IntN(max(1, e.cleanRequests-1))
	w := 10 + e.rng.IntN(20)
	store := filepath.Join(t.TempDir(), "store")
	cfg := e.config(t, store)
	before := e.graph.Count(graphfake.RouteAny)
	e.graph.Inject(graphfake.Rule{Route: graphfake.RouteAny, After: n, Times: w,
		Fault: graphfake.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "0"}})
	watchSync(t, cfg, nil)
	e.graph.ClearFaults()
	served := e.graph.Count(graphfake.RouteAny) - before
	if served <= n {
		t.Fatalf("the run made %d Graph requests, the 503 window starts after %d: not delivered", served, n)
	}
	fl.note = fmt.Sprintf("503 for requests %d-%d of %d", n+1, min(n+w, served), served)
	e.resyncAndCompare(t, &fl, cfg, store)
	return fl
}

// verifyRun runs one verify during a run and says whether what it
// reported is acceptable: consistent, or a clear refusal because the
// store is in use. Anything else while a run is in flight is false.
func verifyRun(t *testing.T, cfg string, gc bool) (ok bool, out string) {
	args := []string{"verify", "--config", cfg}
	if gc {
		args = append(args, "--gc")
	}
	out, code := runSyncd(t, args...)
	if verifyFindings.MatchString(out) {
		return false, out
	}
	return code == 0 || refusedLocked(out), out
}

// verifyFindings matches what verify reports as wrong with a store.
var verifyFindings = regexp.MustCompile(`(?m)^(problem:|unreferenced blob )`)

// refusedLocked reports whether a command's output is a clear refusal
// because another process holds the store (not SQLite's "database is
// locked", not a failed migration).
func refusedLocked(out string) bool {
	low := strings.ToLower(out)
	return strings.Contains(low, "locked") && !strings.Contains(low, "database is locked") &&
		!strings.Contains(low, "already exists")
}

// verifyDuringSync runs verify (or verify --gc) again and again while a
// sync writes; every verify must report nothing false, and once the sync
// has ended (resumed if it had to stop) the store must equal the clean
// run's.
func (e *faultEnv) verifyDuringSync(t *testing.T, gc bool) faultLine {
	fl := faultLine{name: "verify-during-sync"}
	if gc {
		fl.name = "verify-gc-during-sync"
	}
	store := filepath.Join(t.TempDir(), "store")
	cfg := e.config(t, store)
	started := make(chan struct{})
	done := make(chan syncResult, 1)
	go func() {
		var once bool
		done <- watchSync(t, cfg, func(progressLine, func()) {
			if !once {
				once = true
				close(started)
			}
		})
	}()
	var res syncResult
	select {
	case <-started:
	case res = <-done:
		t.Fatalf("the sync ended before its first progress line: exit %d\n%s", res.code, res.log)
	}
	var falseReports []string
loop:
	for {
		select {
		case res = <-done:
			break loop
		default:
		}
		ok, out := verifyRun(t, cfg, gc)
		fl.verifyDuring++
		if !ok {
			falseReports = append(falseReports, out)
		}
	}
	if fl.verifyDuring == 0 {
		t.Fatal("no verify ran while the sync was in flight")
	}
	if len(falseReports) > 0 {
		fl.verifyBad += len(falseReports)
		t.Errorf("%d of %d verifies during the sync reported problems that are not there, the first:\n%s", len(falseReports), fl.verifyDuring, firstLines(falseReports[0], 15))
	}
	e.settle(t, res.code, cfg)
	e.compare(t, &fl, cfg, store)
	return fl
}

// settle: a run that could not finish (e.g. refused because maintenance
// held the store) is resumed, at most twice, as after any interruption.
func (e *faultEnv) settle(t *testing.T, code int, cfg string) {
	t.Helper()
	for i := 0; code != 0 && i < 2; i++ {
		var out string
		out, code = runSyncd(t, "sync", "--config", cfg, "--log-level", "warn")
		if code != 0 && i == 1 {
			t.Errorf("sync after the verifies: exit %d\n%s", code, firstLines(out, 20))
		}
	}
}

// verifyDuringDaemon is verifyDuringSync with the run made by `syncd run`
// (triggered over its API).
func (e *faultEnv) verifyDuringDaemon(t *testing.T, gc bool) faultLine {
	fl := faultLine{name: "verify-during-daemon"}
	if gc {
		fl.name = "verify-gc-during-daemon"
	}
	store := filepath.Join(t.TempDir(), "store")
	cfg := e.config(t, store)
	cmd := exec.Command(syncdBinary(t), "run", "--config", cfg, "--listen", "127.0.0.1:0", "--log-format", "json",
		"--token-env", "SYNCD_FAULTS_NO_TOKEN")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	listen := make(chan string, 1)
	logs := &syncBuf{}
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			var m struct{ Msg, Listen string }
			if !sent && json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "daemon started" {
				listen <- m.Listen
				sent = true
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})
	var base string
	select {
	case a := <-listen:
		base = "http://" + a
	case err := <-exited:
		t.Fatalf("daemon exited: %v\n%s", err, logs.String())
	}
	if code, b := do(t, http.MethodPost, base+"/api/v1/jobs/"+faultJob+"/run", ""); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, b)
	}
	// running reports whether the daemon's run is in flight, and the
	// finished run's status once it is not.
	running := func() (bool, string) {
		var r runsReply
		getJSON(t, base+"/api/v1/runs?job="+faultJob, "", &r)
		if len(r.Runs) == 0 {
			return true, "" // triggered, not recorded yet
		}
		return r.Runs[0].Status == "running", r.Runs[0].Status
	}
	var falseReports []string
	status := ""
	for {
		var in bool
		if in, status = running(); !in {
			break
		}
		ok, out := verifyRun(t, cfg, gc)
		fl.verifyDuring++
		if !ok {
			falseReports = append(falseReports, out)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("daemon exit after SIGTERM: %v\n%s", err, firstLines(logs.String(), 20))
	}
	if fl.verifyDuring == 0 {
		t.Fatal("no verify ran while the daemon's run was in flight")
	}
	if len(falseReports) > 0 {
		fl.verifyBad += len(falseReports)
		t.Errorf("%d of %d verifies during the daemon's run reported problems that are not there, the first:\n%s", len(falseReports), fl.verifyDuring, firstLines(falseReports[0], 15))
	}
	code := 0
	if status != "ok" {
		code = 1
		t.Logf("the daemon's run ended %q; resuming with sync", status)
	}
	e.settle(t, code, cfg)
	e.compare(t, &fl, cfg, store)
	return fl
}

// newStoreRace starts two `syncd sync` on the same new store dir at once,
// several times (a local folder job: the fault is in creating the store).
// Each must succeed or refuse clearly because the store is locked; after
// a resume the store must hold every sighting once and verify clean.
func (e *faultEnv) newStoreRace(t *testing.T) faultLine {
	fl := faultLine{name: "new-store-race"}
	src := filepath.Join(t.TempDir(), "src")
	for i := 0; i < 40; i++ {
		writeFileAll(t, filepath.Join(src, fmt.Sprintf("d%d", i%4), fmt.Sprintf("file %02d.txt", i)), fmt.Sprintf("file %d\n%s", i, strings.Repeat("x", i)))
	}
	cfgFor := func(store string) string {
		p := filepath.Join(t.TempDir(), "syncd.yaml")
		writeFile(t, p, fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: race\n    workspace: race\n    sources:\n      - name: files\n        type: folder\n        path: %q\n", store, src))
		return p
	}
	refStore := filepath.Join(t.TempDir(), "ref")
	refCfg := cfgFor(refStore)
	if out, code := runSyncd(t, "sync", "--config", refCfg, "--log-level", "error"); code != 0 {
		t.Fatalf("reference sync: exit %d\n%s", code, out)
	}
	ref := readStore(t, refStore)
	refExport := exportJSON(t, refCfg)
	refused := 0
	for rep := 0; rep < 8; rep++ {
		store := filepath.Join(t.TempDir(), "store")
		cfg := cfgFor(store)
		var cmds [2]*exec.Cmd
		var outs [2]*syncBuf
		for i := range cmds {
			outs[i] = &syncBuf{}
			cmds[i] = exec.Command(syncdBinary(t), "sync", "--config", cfg, "--log-level", "error")
			cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		}
		for _, c := range cmds {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cmds {
			err := c.Wait()
			out := outs[i].String()
			if err == nil {
				continue
			}
			if _, ok := err.(*exec.ExitError); ok && refusedLocked(out) {
				refused++
				continue
			}
			fl.errors++
			t.Errorf("rep %d: process %d of 2: %v\n%s", rep, i+1, err, firstLines(out, 10))
		}
		if out, code := runSyncd(t, "sync", "--config", cfg, "--log-level", "error"); code != 0 {
			t.Errorf("rep %d: sync after the race: exit %d\n%s", rep, code, firstLines(out, 10))
			continue
		}
		fl.runs++
		if out, code := runSyncd(t, "verify", "--config", cfg); code != 0 {
			fl.verifyBad++
			t.Errorf("rep %d: verify: exit %d\n%s", rep, code, firstLines(out, 10))
		}
		got := readStore(t, store)
		for k, n := range got.sightings {
			if ref.sightings[k] == 0 || n > 1 {
				fl.dup++
			}
		}
		for k := range ref.sightings {
			if got.sightings[k] == 0 {
				fl.lost++
			}
		}
		fl.damaged += len(got.damaged)
		if !bytes.Equal(exportJSON(t, cfg), refExport) {
			fl.exportDiffs++
			t.Errorf("rep %d: export differs from a single run's", rep)
		}
	}
	fl.note = fmt.Sprintf("%d of 16 processes refused: store locked", refused)
	return fl
}

func writeFileAll(t *testing.T, p, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, text)
}
