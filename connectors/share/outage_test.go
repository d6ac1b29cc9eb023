package share_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/share/sharetest"
)

// restartSamba starts smbd again on srv's port, serving the same
// directory with the same user and password, and returns once it accepts
// connections; it is stopped when the test ends.
func restartSamba(t *testing.T, srv *sharetest.Samba) {
	t.Helper()
	state := t.TempDir()
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc"} {
		if err := os.Mkdir(filepath.Join(state, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(state, "smb.conf")
	if err := os.WriteFile(conf, []byte(sharetest.SambaConf(srv.Port, state, srv.Share, srv.Dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	pw := exec.Command(sharetest.Require(t, "smbpasswd"), "-c", conf, "-a", "-s", srv.User)
	pw.Stdin = strings.NewReader(srv.Password + "\n" + srv.Password + "\n")
	if out, err := pw.CombinedOutput(); err != nil {
		t.Fatalf("smbpasswd: %v\n%s", err, out)
	}
	cmd := exec.Command(sharetest.Require(t, "smbd"), "--foreground", "--no-process-group", "--debug-stdout", "--configfile="+conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // smbd and the processes it forked
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.Contains(sc.Text(), "waiting for connections") {
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	t.Fatalf("smbd did not start again:\n%s", strings.Join(log, "\n"))
}

// committed is what the engine keeps of one scan: the items covered by
// its last checkpoint (or the returned cursor), the cursor, the problems.
type committed struct {
	items    []*connectors.Item
	problems []connectors.Problem
	cursor   connectors.Cursor
	err      error
}

type cpSink struct {
	*connectortest.Recorder
	onCheckpoint func(connectors.Cursor)
}

func (c *cpSink) Checkpoint(ctx context.Context, cur connectors.Cursor) error {
	c.onCheckpoint(append(connectors.Cursor(nil), cur...))
	return c.Recorder.Checkpoint(ctx, cur)
}

func scanCommitted(s connectors.Source, cur connectors.Cursor, onItem func(n int)) committed {
	rec := &connectortest.Recorder{}
	rec.OnItem = func(context.Context, *connectors.Item) error {
		if onItem != nil {
			onItem(len(rec.Items))
		}
		return nil
	}
	r := committed{cursor: cur}
	covered := 0
	next, err := s.Scan(context.Background(), cur, &cpSink{Recorder: rec, onCheckpoint: func(c connectors.Cursor) {
		covered, r.cursor = len(rec.Items), c
	}})
	if r.err = err; err == nil {
		covered, r.cursor = len(rec.Items), next
	}
	r.items, r.problems = rec.Items[:covered], rec.Problems
	return r
}

// TestSambaStoppedMidScanLosesNothing: smbd is stopped (its connection
// processes killed) after the k-th item a scan reports, started again on
// the same port, and the share synced as the engine does: a scan from the
// last checkpointed cursor, then Retry of the problems' refs. Every file of
// an undisturbed scan is committed exactly once, and a scan the outage
// cuts short ends with a Retryable error.
func TestSambaStoppedMidScanLosesNothing(t *testing.T) {
	dir := sharetest.ShareDir(t)
	sharetest.GenTree(t, dir, 60, 200)
	for _, k := range []int{1, 30} {
		t.Run(fmt.Sprintf("after-item-%d", k), func(t *testing.T) {
			srv := sharetest.StartSamba(t, dir)
			yaml := sambaYAML(t, srv, "") + "checkpoint_every: 5\n"
			clean := scanCommitted(newSource(t, yaml), nil, nil)
			if clean.err != nil {
				t.Fatal(clean.err)
			}
			want := map[connectors.Ref]*connectors.Item{}
			for _, it := range clean.items {
				want[it.Ref] = it
			}
			stopped := false
			first := scanCommitted(newSource(t, yaml), nil, func(n int) {
				if n == k && !stopped {
					stopped = true
					srv.Stop()
				}
			})
			if !stopped {
				t.Fatalf("the scan reported fewer than %d items", k)
			}
			if (first.err == nil && k == 1) || (first.err != nil && !connectors.IsRetryable(first.err)) {
				t.Errorf("scan cut by the outage: err %v, want a Retryable error", first.err)
			}
			restartSamba(t, srv)
			var retry []connectors.Ref
			for _, p := range first.problems {
				if !connectors.IsRetryable(p.Err) {
					t.Errorf("the outage was reported as a non-retryable problem: %v", p)
				}
				if p.Ref != "" {
					retry = append(retry, p.Ref)
				}
			}
			s2 := newSource(t, yaml)
			second := scanCommitted(s2, first.cursor, nil)
			if second.err != nil {
				t.Fatal(second.err)
			}
			rec := &connectortest.Recorder{}
			if len(retry) > 0 {
				if err := s2.Retry(context.Background(), retry, rec); err != nil {
					t.Fatal(err)
				}
			}
			got := map[connectors.Ref]int{}
			for _, list := range [][]*connectors.Item{first.items, second.items, rec.Items} {
				for _, it := range list {
					got[it.Ref]++
					if w := want[it.Ref]; w == nil {
						t.Errorf("item %s is not in an undisturbed scan", it.Ref)
					} else if d := connectortest.SameItem(w, it); d != "" {
						t.Errorf("item %s: %s", it.Ref, d)
					}
				}
			}
			lost, twice := 0, 0
			for r := range want {
				switch got[r] {
				case 0:
					lost++
				case 1:
				default:
					twice++
				}
			}
			if lost+twice > 0 {
				t.Errorf("%d of %d files lost, %d committed more than once", lost, len(want), twice)
			}
			t.Logf("stopped after item %d: %d committed before, %d by the next scan, %d retried; %d lost, %d twice",
				k, len(first.items), len(second.items), len(rec.Items), lost, twice)
		})
	}
}
