// Package sharetest starts real file servers on loopback for tests and
// benchmarks of the share connector: Samba (smbd) and OpenSSH (sshd with
// its internal SFTP server), each with its own configuration in a
// temporary directory. Under CI (env CI non-empty) a missing server binary
// fails the test; otherwise it skips it.
package sharetest

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to be ready.
const startTimeout = 30 * time.Second

// Require finds a server binary (also in /usr/sbin, which is often not on
// a non-root PATH) or fails (CI) or skips the test.
func Require(t testing.TB, bin string) string {
	t.Helper()
	if p, err := exec.LookPath(bin); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, bin)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, "%s not installed (Debian: apt-get install samba openssh-server)", bin)
	return ""
}

// missing fails under CI and skips otherwise.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// requireRoot: smbd and a privileged sshd must start as root.
func requireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "%s needs root to start", what)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a started daemon process.
type server struct {
	name string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{} // closed when the process has exited
	once sync.Once
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs argv and waits until a line of its output contains ready.
func start(t testing.TB, name, ready string, argv ...string) *server {
	t.Helper()
	srv := &server{name: name, logs: &syncBuffer{}, done: make(chan struct{})}
	srv.cmd = exec.Command(argv[0], argv[1:]...)
	// Its own process group: smbd signals its whole group when it stops.
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.cmd.Stdout, srv.cmd.Stderr = pw, pw
	err = srv.cmd.Start()
	pw.Close() // the child has its copy
	if err != nil {
		pr.Close()
		t.Fatalf("%s: start: %v", name, err)
	}
	readyc := make(chan struct{})
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			fmt.Fprintln(srv.logs, sc.Text())
			if !seen && strings.Contains(sc.Text(), ready) {
				seen = true
				close(readyc)
			}
		}
	}()
	go func() {
		srv.cmd.Wait()
		close(srv.done)
	}()
	t.Cleanup(srv.Stop)
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-readyc:
		return srv
	case <-srv.done:
		t.Fatalf("%s exited before it was ready:\n%s", name, srv.logs.String())
	case <-timer.C:
		t.Fatalf("%s not ready after %s:\n%s", name, startTimeout, srv.logs.String())
	}
	return nil
}

// Stop ends the server: first the processes it forked for connections
// (sshd moves those into their own sessions, out of reach of a process
// group signal), then the server itself (SIGTERM, SIGKILL after 10s). It
// waits for the server to exit. Open connections are dropped.
func (s *server) Stop() {
	s.once.Do(func() {
		pid := s.cmd.Process.Pid
		for _, child := range descendants(pid) {
			syscall.Kill(child, syscall.SIGKILL)
		}
		syscall.Kill(pid, syscall.SIGTERM)
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-s.done:
		case <-timer.C:
			syscall.Kill(pid, syscall.SIGKILL)
			<-s.done
		}
	})
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may contain spaces and ')'.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		var state string
		var ppid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err == nil {
			parent[p] = ppid
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

// Logs returns what the server printed so far.
func (s *server) Logs() string { return s.logs.String() }

// run runs a helper command, failing the test with its output.
func run(t testing.TB, stdin string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// WriteTree writes files (slash path -> content) under dir, world-readable.
func WriteTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ShareDir returns a new temporary directory that an unprivileged server
// process can enter: its ancestors get the others-execute bit.
func ShareDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// GenTree writes n files under dir in nested department folders, about a
// quarter of them duplicates of earlier files in other folders, sizes
// spread around avgSize. Content is deterministic. It returns the total
// number of bytes written.
func GenTree(t testing.TB, dir string, n, avgSize int) int64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(avgSize)))
	var total int64
	var earlier [][]byte
	for i := range n {
		var data []byte
		if i > 0 && rng.IntN(4) == 0 {
			data = earlier[rng.IntN(len(earlier))]
		} else {
			data = make([]byte, avgSize/2+rng.IntN(avgSize+1))
			for j := range data {
				data[j] = byte('a' + rng.IntN(26))
			}
			if len(earlier) < 256 {
				earlier = append(earlier, data)
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("Dept%02d", i%17), fmt.Sprintf("Year%d", 2019+i%6), fmt.Sprintf("doc %05d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		total += int64(len(data))
	}
	return total
}
