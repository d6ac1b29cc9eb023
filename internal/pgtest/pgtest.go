// Package pgtest runs a private PostgreSQL server for a test package: the
// Debian binaries (package postgresql), a cluster initialised in a
// temporary directory, listening on a loopback port with its socket in that
// directory, run as the unprivileged postgres (or nobody) account when the
// tests run as root. Each test gets a fresh database, dropped when it ends.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and call DSN(t) in a test. The server starts on the first DSN and is
// stopped, its directory removed, when the package's tests end. Without
// the binaries a test fails under CI (env CI non-empty) and skips otherwise.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// User is the superuser of the private cluster.
const User = "syncd"

var (
	mainCalled bool
	once       sync.Once
	srv        *server
	srvErr     error
	missingMsg string
	dbs        atomic.Int64
)

type server struct {
	dir      string
	port     int
	password string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the postmaster exits
	admin    *sql.DB
}

// Main runs the package's tests and then stops the server if one started.
func Main(m *testing.M) int {
	mainCalled = true
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	return code
}

// DSN starts the server if needed, creates a fresh database for t (dropped
// by t.Cleanup) and returns its connection string, password included.
func DSN(t testing.TB) string {
	t.Helper()
	if !mainCalled {
		t.Fatal("pgtest: call pgtest.Main from the package's TestMain")
	}
	once.Do(func() { srv, srvErr = start(false) })
	if missingMsg != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: %s", missingMsg)
		}
		t.Skip(missingMsg)
	}
	if srvErr != nil {
		t.Fatalf("pgtest: %v", srvErr)
	}
	name := fmt.Sprintf("t%d", dbs.Add(1))
	ctx := context.Background()
	if _, err := srv.admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := srv.admin.ExecContext(context.Background(), `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return srv.dsn(name)
}

func (s *server) dsn(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(User, s.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// binDir finds the newest /usr/lib/postgresql/N/bin holding initdb and
// postgres.
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// account is the user the server runs as: nil when not root.
func account() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody account exists")
}

// Server is a private PostgreSQL server outside tests (benchmarks).
type Server struct{ s *server }

// Start starts a private server. durable keeps PostgreSQL's defaults
// (fsync, synchronous commits), as a deployment has them; tests turn them
// off.
func Start(durable bool) (*Server, error) {
	s, err := start(durable)
	if err == nil && s == nil {
		err = errors.New(missingMsg)
	}
	if err != nil {
		return nil, err
	}
	return &Server{s}, nil
}

// CreateDB creates a database sorting by bytes and returns its DSN.
func (S *Server) CreateDB(name string) (string, error) {
	if _, err := S.s.admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
		return "", err
	}
	return S.s.dsn(name), nil
}

// Stop stops the server and removes its files.
func (S *Server) Stop() { S.s.stop() }

// Pid is the postmaster's process id.
func (S *Server) Pid() int { return S.s.cmd.Process.Pid }

func start(durable bool) (s *server, err error) {
	bin := binDir()
	if bin == "" {
		missingMsg = "PostgreSQL not installed (Debian: apt-get install postgresql)"
		return nil, nil
	}
	cred, err := account()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	s = &server{dir: dir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	s.password = hex.EncodeToString(pw)
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(s.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		for _, p := range []string{dir, pwFile, sock} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", User, "--pwfile", pwFile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"-D", data, "-k", sock, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-c", "lc_messages=C", "-c", "max_connections=100", "-c", "logging_collector=off", "-c", "log_min_messages=log"}
	if !durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	// Pdeathsig: a test binary killed (a timeout) takes the server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	// The postmaster says when it accepts connections; until then its
	// log is kept for the error should it exit instead.
	ready := make(chan struct{})
	var logMu sync.Mutex
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			line := sc.Text()
			if !said {
				logMu.Lock()
				log.WriteString(line + "\n")
				logMu.Unlock()
				if strings.Contains(line, "database system is ready to accept connections") {
					said = true
					close(ready)
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(s.done)
	}()
	select {
	case <-ready:
	case <-s.done:
		logMu.Lock()
		defer logMu.Unlock()
		return nil, fmt.Errorf("postgres exited before accepting connections:\n%s", log.String())
	}
	s.admin, err = sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		return nil, err
	}
	if err := s.admin.Ping(); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return s, nil
}

// stop shuts the server down (fast: open sessions are ended) and removes
// its directory.
func (s *server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		<-s.done
	}
	os.RemoveAll(s.dir)
}
