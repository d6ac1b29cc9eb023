package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// The web section: `syncd serve` (issue 19) on the store-scale store, its
// history built, under a load generator in this process (plain net/http,
// keep-alive, -web-workers requests at a time): document pages of random
// documents, name searches for fragments of real names, and "is this the
// current version?" for a 10 MiB upload; each beside the floor, a Go
// net/http server in this process answering the same size (a static file,
// or a POST read and discarded) on the same machine.

const (
	webTokenEnv  = "SYNCD_BENCH_TOKEN"
	webSeed      = 19       // the number: which documents, names and bytes
	webCheckSize = 10 << 20 // the upload of the check row
	// webStored is how many stored contents the found-path check row
	// cycles through (downloaded from the server first).
	webStored = 50
)

// Targets from the issue, on the 1M-sighting store.
const (
	webDocP95    = 50 * time.Millisecond
	webSearchP95 = 200 * time.Millisecond
	webCheckP95  = 100 * time.Millisecond // plus hashing the upload
)

func (b *bench) web(ctx context.Context) error {
	work := b.path("web")
	os.RemoveAll(work)
	empty := filepath.Join(work, "empty") // the job's source: the config needs one
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return err
	}
	store, err := b.webStore(ctx, work, empty)
	if err != nil {
		return err
	}
	n, c := b.o.webRequests, b.o.webWorkers
	if n < 10 || c < 1 {
		return fmt.Errorf("-web-requests >= 10 and -web-workers >= 1")
	}
	warm := max(n/10, 2*c)
	nCheck, warmCheck := max(n/5, 2*c), max(n/50, c)
	rng := mrand.New(mrand.NewPCG(webSeed, 1))
	smp, err := sampleCatalog(ctx, filepath.Join(store, "catalog.db"), rng, warm+n, warm+n, webStored)
	if err != nil {
		return err
	}
	frags := make([]string, len(smp.names))
	for i, name := range smp.names {
		frags[i] = fragment(name, rng)
	}
	token := make([]byte, 16)
	rand.Read(token)
	cfg := filepath.Join(work, "syncd.yaml")
	if err := writeWebConfig(cfg, store, empty); err != nil {
		return err
	}
	srv, err := b.startServe(ctx, cfg, hex.EncodeToString(token), filepath.Join(work, "serve.log"))
	if err != nil {
		return err
	}
	defer srv.stop()
	floor, err := startFloor(filepath.Join(work, "floor"))
	if err != nil {
		return err
	}
	defer floor.close()
	auth := "Bearer " + hex.EncodeToString(token)
	get := func(base, path string) func(int) (*http.Request, error) {
		return func(int) (*http.Request, error) { return newReq(ctx, "GET", base+path, auth, nil, "") }
	}

	// The uploads: random bytes (no stored content holds them), and stored
	// contents fetched through the server's downloads.
	random := make([]byte, webCheckSize)
	mrand.NewChaCha8([32]byte{webSeed}).Read(random)
	randomForm, randomCT, err := checkForm("check.bin", random)
	if err != nil {
		return err
	}
	type form struct {
		body []byte
		ct   string
	}
	var stored []form
	var storedSize []int64
	for _, v := range smp.versions {
		resp, err := doReq(ctx, http.DefaultClient, "GET", srv.base+"/d/"+url.PathEscape(v[0])+"/v/"+url.PathEscape(v[1])+"/download", auth, nil, "")
		if err != nil {
			return fmt.Errorf("download a stored content: %w", err)
		}
		body, ct, err := checkForm("stored.bin", resp)
		if err != nil {
			return err
		}
		stored = append(stored, form{body, ct})
		storedSize = append(storedSize, int64(len(resp)))
	}
	// One probe each: the answers are the ones the rows mean to time.
	if page, err := doReq(ctx, http.DefaultClient, "POST", srv.base+"/check", auth, randomForm, randomCT); err != nil || !bytes.Contains(page, []byte(`class="verdict unknown"`)) {
		return fmt.Errorf("check of random bytes: not the not-found answer (err %v)", err)
	}
	if len(stored) > 0 {
		page, err := doReq(ctx, http.DefaultClient, "POST", srv.base+"/check", auth, stored[0].body, stored[0].ct)
		if err != nil || bytes.Contains(page, []byte(`class="verdict unknown"`)) || !bytes.Contains(page, []byte(`id="verdict"`)) {
			return fmt.Errorf("check of a stored content: not found (err %v)", err)
		}
	}

	shaTime, hasherTime := hashTimes(random)
	b.fact("web: %d documents in the catalog; %d random documents (seed %d), %d name fragments of 3-8 characters from random documents' names (e.g. %q, %q); every request signed in with an API token (viewer of every workspace); %d workers, keep-alive; warm page cache",
		smp.documents, len(smp.docs), webSeed, len(frags), frags[0], frags[1], c)
	b.fact("web: hashing the 10 MiB upload in this process (median of 11): crypto/sha256 %s, dedupe.Hasher (SHA-256 + QuickXor, what the server computes) %s",
		ms(shaTime), ms(hasherTime))
	if smp.largest < 1<<20 {
		b.fact("web: no stored content is 1 MiB or larger (the largest is %d bytes): the 10 MiB check is the not-found path; the found path is timed with %d stored contents of %d-%d bytes",
			smp.largest, len(stored), slices.Min(storedSize), slices.Max(storedSize))
	}

	type load struct {
		key, name, peer string
		warm, n         int
		workers         int // 0: -web-workers
		syncd           func(int) (*http.Request, error)
		// floor is the same-size request to the floor server, given the
		// median size of syncd's answers (pages) or nil (uploads).
		floor  func(median int64) (func(int) (*http.Request, error), error)
		target results.Target
		note   string
	}
	static := func(name string) func(int64) (func(int) (*http.Request, error), error) {
		return func(median int64) (func(int) (*http.Request, error), error) {
			u, err := floor.file(name, median)
			if err != nil {
				return nil, err
			}
			return get(u, ""), nil
		}
	}
	discard := func(body []byte, ct string) func(int64) (func(int) (*http.Request, error), error) {
		return func(int64) (func(int) (*http.Request, error), error) {
			return func(int) (*http.Request, error) { return newReq(ctx, "POST", floor.base+"/discard", auth, body, ct) }, nil
		}
	}
	checkTarget := webCheckP95 + shaTime
	loads := []load{
		{key: "doc", name: "document page `/d/{key}`, random documents", peer: "a static file of the same size (median page), Go net/http on the same machine",
			warm: warm, n: n,
			syncd: func(i int) (*http.Request, error) {
				return newReq(ctx, "GET", srv.base+"/d/"+url.PathEscape(smp.docs[i%len(smp.docs)]), auth, nil, "")
			},
			floor: static("page.html"), target: p95AtMost(webDocP95, "p95 ≤ 50 ms")},
		{key: "search", name: "search `/search?q=`, fragments of real names", peer: "a static file of the same size (median page), Go net/http on the same machine",
			warm: warm, n: n,
			syncd: func(i int) (*http.Request, error) {
				return newReq(ctx, "GET", srv.base+"/search?"+url.Values{"q": {frags[i%len(frags)]}}.Encode(), auth, nil, "")
			},
			floor: static("search.html"), target: p95AtMost(webSearchP95, "p95 ≤ 200 ms")},
		{key: "check", name: "check `POST /check` of a 10 MiB upload (random bytes: not found)", peer: "a POST of the same 10 MiB form read and discarded, Go net/http on the same machine",
			warm: warmCheck, n: nCheck,
			syncd: func(int) (*http.Request, error) {
				return newReq(ctx, "POST", srv.base+"/check", auth, randomForm, randomCT)
			},
			floor:  discard(randomForm, randomCT),
			target: p95AtMost(checkTarget, fmt.Sprintf("p95 ≤ 100 ms + SHA-256 of 10 MiB (%s) = %s", ms(shaTime), ms(checkTarget))),
			note:   fmt.Sprintf("hashing 10 MiB in this process: crypto/sha256 %s, dedupe.Hasher %s", ms(shaTime), ms(hasherTime))},
	}
	// The same check one request at a time: a person's upload on a
	// server nobody else is using (at -web-workers, four 10 MiB uploads
	// share two cores, and the floor itself queues).
	one := loads[len(loads)-1]
	one.key, one.name, one.workers = "check1", "check `POST /check` of a 10 MiB upload (random bytes: not found), one request at a time", 1
	loads = append(loads, one)
	if len(stored) > 0 {
		med := storedSize[len(storedSize)/2]
		loads = append(loads, load{key: "found", name: fmt.Sprintf("check `POST /check` of a stored content (%d different, %d-%d bytes: found)", len(stored), slices.Min(storedSize), slices.Max(storedSize)),
			peer: "a POST of a form of the same size (median) read and discarded, Go net/http on the same machine",
			warm: warm, n: n,
			syncd: func(i int) (*http.Request, error) {
				f := stored[i%len(stored)]
				return newReq(ctx, "POST", srv.base+"/check", auth, f.body, f.ct)
			},
			floor: func(int64) (func(int) (*http.Request, error), error) {
				var f form
				for i, s := range storedSize {
					if s == med {
						f = stored[i]
					}
				}
				return discard(f.body, f.ct)(0)
			}})
	}
	for _, l := range loads {
		if err := ctx.Err(); err != nil {
			return err
		}
		w := c
		if l.workers > 0 {
			w = l.workers
		}
		cpu0, _ := procCPU(srv.pid)
		s := runLoad(ctx, newLoadClient(w), w, l.warm, l.n, l.syncd)
		cpu1, _ := procCPU(srv.pid)
		rss := peakRSS(srv.pid)
		var f loadResult
		fl, err := l.floor(s.median())
		if err != nil {
			return err
		}
		f = runLoad(ctx, newLoadClient(w), w, l.warm, l.n, fl)
		r := webRow(l.name, l.peer, w, s, f, cpu1-cpu0, rss, l.target)
		r.Note = strings.TrimSuffix(fmt.Sprintf("%s; %s", r.Note, l.note), "; ")
		b.add(r)
		b.log.Info("web row", "row", l.key, "p50", s.pct(50), "p95", s.pct(95), "p99", s.pct(99), "rps", int(s.rps()),
			"floor_p95", f.pct(95), "errors", s.Errors+f.Errors)
	}
	srv.stop()
	if counts, err := auditCounts(ctx, filepath.Join(store, "catalog.db")); err == nil {
		b.fact("web: audit rows the server wrote: %s", counts)
	}
	return os.RemoveAll(work)
}

// webStore is the store-scale store (scaleStore: its catalog reset to the
// pristine copy) with its history built: the pristine catalog has no
// documents until a sync or `syncd history rebuild` builds them, so the
// first web run builds them once with `syncd history rebuild --full` and
// keeps the result beside pristine.db as history.db; every run serves a
// fresh copy of it (scaleStore's copy of pristine.db is replaced: two
// seconds, and the scale section's cache stays its own).
func (b *bench) webStore(ctx context.Context, work, empty string) (string, error) {
	dir, err := b.scaleStore(ctx)
	if err != nil {
		return "", err
	}
	built, catalog := filepath.Join(dir, "history.db"), filepath.Join(dir, "catalog.db")
	if _, err := os.Stat(built); err == nil {
		for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm"} {
			os.Remove(filepath.Join(dir, f))
		}
		b.fact("web: serving a copy of %s (the pristine catalog, its history built by an earlier run)", built)
		return dir, copyFile(built, catalog)
	}
	cfg := filepath.Join(work, "rebuild.yaml")
	if err := writeWebConfig(cfg, dir, empty); err != nil {
		return "", err
	}
	start := time.Now()
	c := b.syncdCmd("syncd history rebuild --full", nil, "history", "rebuild", "--full", "--config", cfg, "--log-level", "warn")
	c.Limit = 2 * b.o.limit
	if _, err := measure.Run(ctx, c); err != nil {
		return "", err
	}
	took := time.Since(start)
	if err := snapshot(ctx, catalog, built); err != nil {
		os.Remove(built)
		return "", err
	}
	b.fact("web: the pristine catalog had no documents: built its history once with `syncd history rebuild --full` (%s), kept as %s for later runs",
		took.Round(time.Second), built)
	return dir, nil
}

// writeWebConfig writes a config serving store to API tokens from
// $SYNCD_BENCH_TOKEN (viewer of every workspace); the job is there
// because a config needs one.
func writeWebConfig(path, store, empty string) error {
	text := fmt.Sprintf("store:\n  path: %q\nserve:\n  tokens:\n    - name: bench\n      token_env: %s\n      roles: {\"*\": viewer}\njobs:\n  - name: web\n    workspace: department\n    sources:\n      - name: empty\n        type: folder\n        path: %q\n",
		store, webTokenEnv, empty)
	return os.WriteFile(path, []byte(text), 0o644)
}

// catalogSample is what the rows request, drawn from the catalog.
type catalogSample struct {
	documents int
	docs      []string    // document keys
	names     []string    // document names
	versions  [][2]string // (document key, version key) of stored contents
	largest   int64       // the largest stored content
}

// sampleCatalog opens the catalog read-only and draws documents at random
// (rows picked by seeded random rowid): docs keys, names of other random
// documents, and versions whose contents the found-path check uploads
// (the largest stored contents when one is 1 MiB or more).
func sampleCatalog(ctx context.Context, path string, rng *mrand.Rand, docs, names, versions int) (catalogSample, error) {
	var s catalogSample
	cat, err := workspace.Open(ctx, path, workspace.Options{ReadOnly: true})
	if err != nil {
		return s, err
	}
	defer cat.Close()
	db := cat.DB()
	var maxDoc, maxVer int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM documents`).Scan(&s.documents, &maxDoc); err != nil {
		return s, err
	}
	if s.documents == 0 {
		return s, errors.New("the catalog has no documents (history not built)")
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(rowid), 0) FROM versions`).Scan(&maxVer); err != nil {
		return s, err
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(size), 0) FROM blobs`).Scan(&s.largest); err != nil {
		return s, err
	}
	pick := func(q string, max int64, want int, scan func(*sql.Row) error) error {
		seen := map[int64]bool{}
		for found, tries := 0, 0; found < want && tries < 20*want; tries++ {
			id := 1 + rng.Int64N(max)
			if seen[id] && int64(len(seen)) < max {
				continue
			}
			seen[id] = true
			err := scan(db.QueryRowContext(ctx, q, id))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			found++
		}
		return nil
	}
	// column picks n random documents' values of one text column.
	column := func(q string, n int, into *[]string) error {
		return pick(q, maxDoc, n, func(r *sql.Row) error {
			var v string
			err := r.Scan(&v)
			if err == nil {
				*into = append(*into, v)
			}
			return err
		})
	}
	if err := column(`SELECT key FROM documents WHERE rowid = ?`, docs, &s.docs); err != nil {
		return s, err
	}
	if err := column(`SELECT name FROM documents WHERE rowid = ?`, names, &s.names); err != nil {
		return s, err
	}
	if s.largest >= 1<<20 {
		rows, err := db.QueryContext(ctx, `SELECT v.document_key, v.key FROM blobs b JOIN versions v ON v.blob_id = b.id WHERE b.size >= ? ORDER BY b.size DESC LIMIT ?`, 1<<20, versions)
		if err != nil {
			return s, err
		}
		defer rows.Close()
		for rows.Next() {
			var v [2]string
			if err := rows.Scan(&v[0], &v[1]); err != nil {
				return s, err
			}
			s.versions = append(s.versions, v)
		}
		return s, rows.Err()
	}
	err = pick(`SELECT document_key, key FROM versions WHERE rowid = ?`, maxVer, versions, func(r *sql.Row) error {
		var v [2]string
		err := r.Scan(&v[0], &v[1])
		if err == nil {
			s.versions = append(s.versions, v)
		}
		return err
	})
	if len(s.docs) == 0 || len(s.names) == 0 {
		return s, errors.New("no documents drawn from the catalog")
	}
	return s, err
}

// fragment is a piece of a name someone might type: 3-8 characters from
// a random place in it, trimmed.
func fragment(name string, rng *mrand.Rand) string {
	r := []rune(name)
	l := min(3+rng.IntN(6), len(r))
	start := rng.IntN(len(r) - l + 1)
	if f := strings.TrimSpace(string(r[start : start+l])); f != "" {
		return f
	}
	return name
}

// auditCounts counts the serve.* audit rows by action.
func auditCounts(ctx context.Context, path string) (string, error) {
	cat, err := workspace.Open(ctx, path, workspace.Options{ReadOnly: true})
	if err != nil {
		return "", err
	}
	defer cat.Close()
	rows, err := cat.DB().QueryContext(ctx, `SELECT action, COUNT(*) FROM audit WHERE action LIKE 'serve.%' GROUP BY action ORDER BY action`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var a string
		var n int
		if err := rows.Scan(&a, &n); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s %d", a, n))
	}
	return strings.Join(parts, ", "), rows.Err()
}

// serveProc is a running `syncd serve`.
type serveProc struct {
	cmd  *exec.Cmd
	pid  int
	base string // http://127.0.0.1:port
	log  *os.File
	once sync.Once
}

// startServe starts `syncd serve` on a free loopback port with the token
// in $SYNCD_BENCH_TOKEN, and waits for the address it prints.
func (b *bench) startServe(ctx context.Context, cfg, token, logPath string) (*serveProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.o.syncd, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--log-format", "text", "--log-level", "warn")
	cmd.Env = append(os.Environ(), webTokenEnv+"="+token)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &serveProc{cmd: cmd, pid: cmd.Process.Pid, log: logf}
	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // keep its stdout flowing
			}
		}
	}()
	fail := func(err error) (*serveProc, error) {
		p.stop()
		text, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("syncd serve: %w: %s", err, oneLine(string(text), 600))
	}
	select {
	case l, ok := <-lines:
		if !ok {
			return fail(errors.New("exited before serving"))
		}
		// "serving the workspace on http://127.0.0.1:PORT/ (Ctrl-C stops)"
		_, rest, found := strings.Cut(l, "http://")
		addr, _, _ := strings.Cut(rest, "/")
		if !found || addr == "" {
			return fail(fmt.Errorf("no address in %q", l))
		}
		p.base = "http://" + addr
	case <-time.After(2 * time.Minute):
		return fail(errors.New("not serving after 2 minutes"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if _, err := doReq(ctx, http.DefaultClient, "GET", p.base+"/healthz", "", nil, ""); err != nil {
		return fail(err)
	}
	return p, nil
}

// stop ends the server (SIGTERM, then SIGKILL after 30 s); safe to call twice.
func (p *serveProc) stop() {
	p.once.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		p.log.Close()
	})
}

// floorServer is the floor: Go's net/http in this process, serving static
// files (http.FileServer) and discarding POSTed bodies.
type floorServer struct {
	srv  *http.Server
	base string
	dir  string
}

func startFloor(dir string) (*floorServer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("POST /discard", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok\n")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &floorServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, base: "http://" + ln.Addr().String(), dir: dir}
	go f.srv.Serve(ln)
	return f, nil
}

// file writes a static file of size bytes and returns its URL.
func (f *floorServer) file(name string, size int64) (string, error) {
	line := []byte("<p>the floor: a static file of the same size as the page it stands beside</p>\n")
	data := bytes.Repeat(line, int(size)/len(line)+1)[:size]
	if err := os.WriteFile(filepath.Join(f.dir, name), data, 0o644); err != nil {
		return "", err
	}
	return f.base + "/static/" + name, nil
}

func (f *floorServer) close() { f.srv.Close() }

// checkForm is a multipart form with data as its "file" field.
func checkForm(name string, data []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile("file", name)
	if err != nil {
		return nil, "", err
	}
	w.Write(data)
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

func newReq(ctx context.Context, method, u, auth string, body []byte, ct string) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return req, nil
}

// doReq sends one request and returns the body of a 2xx answer.
func doReq(ctx context.Context, c *http.Client, method, u, auth string, body []byte, ct string) ([]byte, error) {
	req, err := newReq(ctx, method, u, auth, body, ct)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
	}
	return b, err
}

// hashTimes is the median time, over 11 passes, to SHA-256 data and to
// hash it with dedupe.Hasher (SHA-256 + QuickXor, what the server does).
func hashTimes(data []byte) (sha, hasher time.Duration) {
	med := func(f func()) time.Duration {
		f() // warm
		t := make([]time.Duration, 11)
		for i := range t {
			start := time.Now()
			f()
			t[i] = time.Since(start)
		}
		slices.Sort(t)
		return t[len(t)/2]
	}
	sha = med(func() { sha256.Sum256(data) })
	hasher = med(func() { h := dedupe.NewHasher(); h.Write(data); h.Sums() })
	return sha, hasher
}

// The load generator.

// newLoadClient is a keep-alive client that holds a connection per worker.
func newLoadClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: workers,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}}
}

// loadResult is what runLoad measured over its timed requests.
type loadResult struct {
	Latency []time.Duration // of each answered request, to the last byte, sorted
	Sizes   []int64         // body bytes of each answered request, sorted
	Elapsed time.Duration   // wall time of the timed requests
	Errors  int             // requests that failed or were not 2xx
	Err     error           // the first of them
}

// runLoad sends warmup untimed requests, then n timed ones, workers at a
// time; request i (0 <= i < warmup+n, warm-up first) is newReq(i), each
// index sent once. Bodies are read to the end.
func runLoad(ctx context.Context, client *http.Client, workers, warmup, n int, newReq func(int) (*http.Request, error)) loadResult {
	var res loadResult
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if res.Err == nil {
			res.Err = err
		}
	}
	lat := make([]time.Duration, n)
	sizes := make([]int64, n)
	ok := make([]bool, n)
	phase := func(first, count int, timed bool) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					k := int(next.Add(1) - 1)
					if k >= count || ctx.Err() != nil {
						return
					}
					req, err := newReq(first + k)
					if err != nil {
						if timed {
							fail(err)
						}
						continue
					}
					start := time.Now()
					size, err := send(client, req)
					d := time.Since(start)
					if !timed {
						continue // a warm-up failure shows in the timed requests
					}
					if err != nil {
						fail(err)
						continue
					}
					lat[k], sizes[k], ok[k] = d, size, true
				}
			})
		}
		wg.Wait()
	}
	phase(0, warmup, false)
	start := time.Now()
	phase(warmup, n, true)
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil && res.Err == nil {
		res.Err = err
	}
	for k := range n {
		if ok[k] {
			res.Latency = append(res.Latency, lat[k])
			res.Sizes = append(res.Sizes, sizes[k])
		}
	}
	slices.Sort(res.Latency)
	slices.Sort(res.Sizes)
	return res
}

// send does one request and reads its answer to the end.
func send(c *http.Client, req *http.Request) (int64, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return n, err
}

// pct is the p-th percentile of the latencies by nearest rank: the
// smallest latency that at least p% of them do not exceed (0 with none).
func (r loadResult) pct(p float64) time.Duration {
	return percentile(r.Latency, p)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(k, 1), len(sorted))-1]
}

// rps is the answered requests a second over the timed phase.
func (r loadResult) rps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latency)) / r.Elapsed.Seconds()
}

// median is the median answer size.
func (r loadResult) median() int64 {
	if len(r.Sizes) == 0 {
		return 0
	}
	return r.Sizes[len(r.Sizes)/2]
}

// webRow is a row of the table: its time cells are latencies, p95 with
// p50–p99 in the brackets (the row's name says so); syncd's CPU cell is
// the server's CPU during its timed requests, its RSS cell the server's
// peak so far.
func webRow(name, peer string, workers int, s, f loadResult, cpu float64, rss int64, t results.Target) results.Row {
	lat := func(r loadResult) measure.Stat {
		return measure.Stat{Median: r.pct(95).Seconds(), Min: r.pct(50).Seconds(), Max: r.pct(99).Seconds()}
	}
	r := results.Row{Section: "web", Name: name + ": latency s, p95 (p50–p99)", Peer: peer, Target: t,
		Syncd: measure.Summary{N: len(s.Latency), Wall: lat(s), CPU: measure.Stat{Median: cpu, Min: cpu, Max: cpu},
			MaxRSS: measure.Stat{Median: float64(rss), Min: float64(rss), Max: float64(rss)}}}
	r.PeerSum = &measure.Summary{N: len(f.Latency), Wall: lat(f)}
	var errs []string
	for _, x := range []struct {
		who string
		r   loadResult
	}{{"syncd", s}, {"floor", f}} {
		if x.r.Errors > 0 {
			errs = append(errs, fmt.Sprintf("%s: %d requests failed, first: %s", x.who, x.r.Errors, oneLine(x.r.Err.Error(), 160)))
		}
	}
	r.Err = strings.Join(errs, "; ")
	perReq := 0.0
	if len(s.Latency) > 0 {
		perReq = cpu / float64(len(s.Latency)) * 1000
	}
	r.Note = fmt.Sprintf("syncd p50/p95/p99 %s / %s / %s, %.0f requests/s, %s median answer, server CPU %.1f ms a request; floor p50/p95/p99 %s / %s / %s, %.0f requests/s; %d timed requests each, %d at a time",
		ms(s.pct(50)), ms(s.pct(95)), ms(s.pct(99)), s.rps(), human(s.median()), perReq,
		ms(f.pct(50)), ms(f.pct(95)), ms(f.pct(99)), f.rps(), len(s.Latency), workers)
	return r
}

// p95AtMost: syncd's p95 latency at most limit.
func p95AtMost(limit time.Duration, text string) results.Target {
	return results.Target{Text: text, Met: func(r results.Row) bool { return r.Syncd.N > 0 && r.Syncd.Wall.Median <= limit.Seconds() }}
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}
