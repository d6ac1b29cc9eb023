package imap_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// outageDovecot is a real Dovecot that a test stops (as an administrator
// does: SIGINT to the master, which ends every session) and starts again on
// the same port with the same mail, UIDs and UIDVALIDITY.
type outageDovecot struct {
	t    *testing.T
	dir  string
	addr string
	cmd  *exec.Cmd // the instance this test started, after a restart
}

func startOutageDovecot(t *testing.T) *outageDovecot {
	t.Helper()
	tree, err := imaptest.ReadTree(fixtureDir(t))
	if err != nil {
		t.Fatal(err)
	}
	d, err := imaptest.StartDovecotServer(context.Background(), tree.Accounts())
	if errors.Is(err, imaptest.ErrNoDovecot) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := d.Dir
	o := &outageDovecot{t: t, dir: dir, addr: d.Addr}
	t.Cleanup(func() {
		o.halt(syscall.SIGKILL)
		d.Stop() // the first instance has exited: this removes the directory
	})
	for _, acct := range tree.Accounts() {
		if err := imaptest.Load(context.Background(), d.Addr, acct, imaptest.Password, tree[acct]); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// halt stops the running instance and returns once its master and every
// process it had started (the sessions included) have exited. SIGINT is an
// administrator's stop (sessions get BYE; Dovecot takes about 10 s),
// SIGKILL a crash of every process (connections reset).
func (o *outageDovecot) halt(sig syscall.Signal) {
	pid := 0
	if o.cmd != nil {
		pid = o.cmd.Process.Pid
	} else if b, err := os.ReadFile(filepath.Join(o.dir, "run", "master.pid")); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid > 0 {
		// pidfds become readable when their process exits: no polling.
		var fds []int
		procs := append([]int{pid}, childrenOf(pid)...)
		for _, p := range procs {
			if fd, err := unix.PidfdOpen(p, 0); err == nil {
				fds = append(fds, fd)
			}
		}
		if sig == syscall.SIGKILL {
			for _, p := range procs {
				syscall.Kill(p, sig)
			}
		} else {
			syscall.Kill(pid, sig)
		}
		for _, fd := range fds {
			for {
				_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
				if err == nil || !errors.Is(err, unix.EINTR) {
					break
				}
			}
			unix.Close(fd)
		}
	}
	if o.cmd != nil {
		o.cmd.Wait()
		o.cmd = nil
	}
	if sig == syscall.SIGKILL {
		// A crash leaves the runtime sockets, which make a new master
		// think Dovecot still runs: clear them, as a reboot would.
		run := filepath.Join(o.dir, "run")
		os.RemoveAll(run)
		if err := os.MkdirAll(run, 0o755); err != nil {
			o.t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(o.dir, "run", "master.pid"))
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// restart starts Dovecot again from the same configuration and returns
// once it logs that it accepts connections.
func (o *outageDovecot) restart() {
	o.t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		bin = "/usr/sbin/dovecot"
	}
	cmd := exec.Command(bin, "-F", "-c", filepath.Join(o.dir, "dovecot.conf"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		o.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		o.t.Fatal(err)
	}
	o.cmd = cmd
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.Contains(sc.Text(), "starting up") {
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	o.t.Fatalf("dovecot did not start again: %s", strings.Join(log, "\n"))
}

// run is what the engine keeps of one scan: the items covered by its last
// checkpoint (or by the returned cursor) and the problems it was told.
type run struct {
	committed []*connectors.Item
	problems  []connectors.Problem
	cursor    connectors.Cursor
	err       error
}

// scanCommitted scans from cur; onItem runs after the n-th item is told.
func scanCommitted(t *testing.T, s connectors.Source, cur connectors.Cursor, onItem func(n int)) run {
	t.Helper()
	rec := &connectortest.Recorder{}
	covered := 0
	rec.OnItem = func(context.Context, *connectors.Item) error {
		if onItem != nil {
			onItem(len(rec.Items))
		}
		return nil
	}
	r := run{cursor: cur}
	sink := &checkpointSink{Recorder: rec, onCheckpoint: func(c connectors.Cursor) {
		covered = len(rec.Items)
		r.cursor = c
	}}
	next, err := s.Scan(context.Background(), cur, sink)
	r.err = err
	if err == nil {
		covered, r.cursor = len(rec.Items), next
	}
	r.committed = rec.Items[:covered]
	r.problems = rec.Problems
	return r
}

type checkpointSink struct {
	*connectortest.Recorder
	onCheckpoint func(connectors.Cursor)
}

func (c *checkpointSink) Checkpoint(ctx context.Context, cur connectors.Cursor) error {
	c.onCheckpoint(append(connectors.Cursor(nil), cur...))
	return c.Recorder.Checkpoint(ctx, cur)
}

// TestDovecotStoppedMidScanLosesNothing: Dovecot is stopped after the k-th
// item a scan reports (for several k), started again, and the account
// synced as the engine does: scan from the last checkpointed cursor, then
// Retry of every problem that carries a Ref. Every item of an undisturbed
// scan is then committed exactly once, and the lost connection never shows
// as a problem other than a retryable one.
func TestDovecotStoppedMidScanLosesNothing(t *testing.T) {
	d := startOutageDovecot(t)
	srv := server{"dovecot", d.addr}
	ref := newSource(t, srv, alice, "")
	clean := scanCommitted(t, ref, nil, nil)
	ref.Close()
	if clean.err != nil {
		t.Fatal(clean.err)
	}
	want := map[connectors.Ref]*connectors.Item{}
	for _, it := range clean.committed {
		want[it.Ref] = it
	}
	cleanProblems := map[string]bool{}
	for _, p := range clean.problems {
		cleanProblems[p.Error()] = true
	}
	n := len(clean.committed)
	for _, c := range []struct {
		k   int
		sig syscall.Signal
	}{{1, syscall.SIGKILL}, {n / 3, syscall.SIGKILL}, {n / 2, syscall.SIGINT}, {2 * n / 3, syscall.SIGKILL}, {n - 1, syscall.SIGKILL}} {
		k := c.k
		t.Run(fmt.Sprintf("%s-after-item-%d-of-%d", map[syscall.Signal]string{syscall.SIGKILL: "kill", syscall.SIGINT: "stop"}[c.sig], k, n), func(t *testing.T) {
			s := newSource(t, srv, alice, "retries: 1")
			defer s.Close()
			stopped := false
			first := scanCommitted(t, s, nil, func(i int) {
				if i == k && !stopped {
					stopped = true
					d.halt(c.sig)
				}
			})
			if !stopped {
				t.Fatalf("the scan reported fewer than %d items", k)
			}
			d.restart()
			if first.err != nil && !connectors.IsRetryable(first.err) {
				t.Errorf("scan cut by the outage: err %v, want a Retryable one", first.err)
			}
			var retry []connectors.Ref
			for _, p := range first.problems {
				if cleanProblems[p.Error()] {
					continue
				}
				if !connectors.IsRetryable(p.Err) {
					t.Errorf("the outage was reported as a non-retryable problem: %v", p)
				}
				if p.Ref != "" {
					retry = append(retry, p.Ref)
				}
			}
			s2 := newSource(t, srv, alice, "")
			defer s2.Close()
			second := scanCommitted(t, s2, first.cursor, nil)
			if second.err != nil {
				t.Fatal(second.err)
			}
			rec := &connectortest.Recorder{}
			if len(retry) > 0 {
				if err := s2.(connectors.Retrier).Retry(context.Background(), retry, rec); err != nil {
					t.Fatal(err)
				}
			}
			got := map[connectors.Ref]int{}
			for _, list := range [][]*connectors.Item{first.committed, second.committed, rec.Items} {
				for _, it := range list {
					got[it.Ref]++
					if w := want[it.Ref]; w == nil {
						t.Errorf("item %s (%s) is not in an undisturbed scan", it.Ref, it.Name)
					} else if diff := connectortest.SameItem(w, it); diff != "" {
						t.Errorf("item %s: %s", it.Ref, diff)
					}
				}
			}
			lost, twice := 0, 0
			for r := range want {
				switch got[r] {
				case 0:
					lost++
					t.Errorf("lost: %s", r)
				case 1:
				default:
					twice++
					t.Errorf("committed %d times: %s", got[r], r)
				}
			}
			t.Logf("stopped after item %d: %d committed before, %d by the next scan, %d retried; %d lost, %d twice",
				k, len(first.committed), len(second.committed), len(rec.Items), lost, twice)
		})
	}
}

// TestDovecotStoppedOpenIsRetryable: a part opened while Dovecot is down
// (on a pooled connection the shutdown ended, and on a new one) fails
// with a Retryable error naming the item, never as unreadable data; once
// Dovecot is back the same Open reads the part.
func TestDovecotStoppedOpenIsRetryable(t *testing.T) {
	d := startOutageDovecot(t)
	s := newSource(t, server{"dovecot", d.addr}, alice, "retries: 1")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	var it *connectors.Item
	for _, c := range rec.Content() {
		if c.Name == "Quarterly Report.pdf" {
			it = c
		}
	}
	if it == nil {
		t.Fatal("fixture item missing")
	}
	want := connectortest.ReadAll(t, s, it) // leaves a pooled connection
	d.halt(syscall.SIGINT)
	for _, when := range []string{"pooled connection", "no server"} {
		rc, err := s.Open(context.Background(), it)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if err == nil || !connectors.IsRetryable(err) || !strings.Contains(err.Error(), string(it.Ref)) {
			t.Errorf("open with Dovecot stopped (%s): err=%v, want a Retryable error naming %s", when, err, it.Ref)
		}
	}
	d.restart()
	if got := connectortest.ReadAll(t, s, it); string(got) != string(want) {
		t.Errorf("after the restart: read %d bytes, want %d", len(got), len(want))
	}
}
