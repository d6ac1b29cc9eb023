package main

import (
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket listens where $NOTIFY_SOCKET points, as systemd does, and
// hands over each message.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, msgs: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			select {
			case n.msgs <- string(buf[:k]):
			default: // a test that stopped reading: watchdog pings pile up
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// next waits for the next message that is not a watchdog ping (unless
// the ping is what is wanted) and returns it; it fails after 30s.
func (n *notifySocket) next(t *testing.T, wantPing bool) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatal("notify socket closed")
			}
			if (m == "WATCHDOG=1") != wantPing {
				continue
			}
			return m
		case <-deadline:
			t.Fatal("no sd_notify message within 30s")
			return ""
		}
	}
}

func hasLine(msg, line string) bool {
	for l := range strings.SplitSeq(msg, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// `syncd run` under systemd (Type=notify): READY=1 once started, WATCHDOG=1
// while WATCHDOG_USEC is set, STOPPING=1 when stopped; exit 0.
func TestSystemdNotifyReadyWatchdogStopping(t *testing.T) {
	n := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", n.path)
	t.Setenv("WATCHDOG_USEC", "200000") // a ping every 100ms
	t.Setenv("WATCHDOG_PID", "")
	cfg := tempConfig(t, reloadA)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	logs := &syncBuf{}
	go func() {
		done <- runMain(ctx, []string{"run", "--config", cfg, "--listen", "127.0.0.1:0", "--log-format", "json"}, &syncBuf{}, logs)
	}()
	ready := n.next(t, false)
	if !hasLine(ready, "READY=1") || !strings.Contains(ready, "STATUS=1 jobs, status API on 127.0.0.1:") {
		t.Fatalf("first message %q, want READY=1 with a STATUS; log:\n%s", ready, logs)
	}
	// Ready means started: the status server answers.
	_, addr, _ := strings.Cut(ready, "status API on ")
	if code, _ := do(t, "GET", "http://"+addr+"/readyz", ""); code != 200 {
		t.Errorf("after READY=1, /readyz: %d", code)
	}
	if m := n.next(t, true); m != "WATCHDOG=1" {
		t.Fatalf("got %q, want WATCHDOG=1", m)
	}
	cancel()
	if m := n.next(t, false); !hasLine(m, "STOPPING=1") {
		t.Errorf("after cancel got %q, want STOPPING=1", m)
	}
	if code := <-done; code != exitOK {
		t.Errorf("run stopped by its context: exit %d\n%s", code, logs)
	}
}

// A SIGHUP reload is framed by RELOADING=1 (with MONOTONIC_USEC, which
// systemd 253+ requires) and READY=1, in a real process.
func TestSystemdNotifyReload(t *testing.T) {
	n := listenNotify(t)
	cfg := tempConfig(t, reloadA)
	cmd := helperCmd(t, "run", "--config", cfg, "--listen", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+n.path, "WATCHDOG_USEC=")
	p := startProc(t, cmd)
	if m := n.next(t, false); !hasLine(m, "READY=1") {
		t.Fatalf("first message %q, want READY=1\n%s", m, p.stderr)
	}
	writeFile(t, cfg, reloadB)
	p.signal(t, syscall.SIGHUP)
	m := n.next(t, false)
	if !hasLine(m, "RELOADING=1") || !regexp.MustCompile(`(?m)^MONOTONIC_USEC=[1-9][0-9]*$`).MatchString(m) {
		t.Fatalf("after SIGHUP got %q, want RELOADING=1 and MONOTONIC_USEC", m)
	}
	if m := n.next(t, false); !hasLine(m, "READY=1") || !strings.Contains(m, "STATUS=2 jobs") {
		t.Fatalf("after the reload got %q, want READY=1 and the new job count", m)
	}
	p.signal(t, syscall.SIGTERM)
	if m := n.next(t, false); !hasLine(m, "STOPPING=1") {
		t.Errorf("after SIGTERM got %q, want STOPPING=1", m)
	}
	if code := p.exitCode(t, 30*time.Second); code != exitOK {
		t.Errorf("exit %d after SIGTERM\n%s", code, p.stderr)
	}
}
