// Package servers starts the real servers the benchmark reads from, on
// loopback only: Samba here, Dovecot through connectors/imap/imaptest.
package servers

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rclone/rclone/fs/config/obscure"

	"github.com/syncd/syncd/connectors/share/sharetest"
)

// ErrNotInstalled names a missing server binary.
var ErrNotInstalled = errors.New("not installed")

// Samba is a private smbd on a loopback port serving one directory,
// read-only, as share "data".
type Samba struct {
	Host, User, Password, Share, Dir string
	Port                             int

	state string
	proc
}

// proc is a server process in the foreground, in its own process group,
// with what it printed.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  strings.Builder
}

// StartSamba starts smbd serving dir. Files are read as user nobody, so
// dir and its parents must be readable by everyone. ctx bounds start-up.
func StartSamba(ctx context.Context, dir string) (*Samba, error) {
	smbd, err := lookPath("smbd")
	if err != nil {
		return nil, err
	}
	smbpasswd, err := lookPath("smbpasswd")
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "bench-smb-")
	if err != nil {
		return nil, err
	}
	s := &Samba{Host: "127.0.0.1", User: "root", Share: "data", Dir: dir, state: state}
	if err := s.configure(ctx, smbpasswd); err != nil {
		os.RemoveAll(state)
		return nil, err
	}
	if err := s.start(ctx, smbd); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin"} {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return filepath.Join(d, name), nil
		}
	}
	return "", fmt.Errorf("servers: %s: %w", name, ErrNotInstalled)
}

func (s *Samba) configure(ctx context.Context, smbpasswd string) error {
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc"} {
		if err := os.Mkdir(filepath.Join(s.state, d), 0o755); err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	b := make([]byte, 12)
	rand.Read(b)
	s.Password = hex.EncodeToString(b)
	if err := os.WriteFile(s.conf(), []byte(sharetest.SambaConf(s.Port, s.state, s.Share, s.Dir)), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, smbpasswd, "-c", s.conf(), "-a", "-s", s.User)
	cmd.Stdin = strings.NewReader(s.Password + "\n" + s.Password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("servers: smbpasswd: %w: %s", err, out)
	}
	return nil
}

func (s *Samba) conf() string { return filepath.Join(s.state, "smb.conf") }

func (s *Samba) start(ctx context.Context, smbd string) error {
	return s.proc.start(ctx, "waiting for connections", smbd, "--foreground", "--no-process-group", "--debug-stdout", "--configfile="+s.conf())
}

// start runs argv in its own process group and waits for ready in what it
// prints.
func (s *proc) start(ctx context.Context, ready string, argv ...string) error {
	name := filepath.Base(argv[0])
	s.done = make(chan struct{})
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	err = s.cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return fmt.Errorf("servers: start %s: %w", name, err)
	}
	up := make(chan struct{})
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			s.mu.Lock()
			if s.log.Len() < 64<<10 {
				s.log.WriteString(sc.Text() + "\n")
			}
			s.mu.Unlock()
			if !seen && strings.Contains(sc.Text(), ready) {
				seen = true
				close(up)
			}
		}
	}()
	go func() { s.cmd.Wait(); close(s.done) }()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-up:
		return nil
	case <-s.done:
		return fmt.Errorf("servers: %s exited: %s", name, s.Log())
	case <-timer.C:
		return fmt.Errorf("servers: %s not ready after 30s: %s", name, s.Log())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pid is the server's parent process (smbd's and sshd's reap their
// per-client children).
func (s *proc) Pid() int { return s.cmd.Process.Pid }

// Log is what the server printed.
func (s *proc) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Stop ends smbd and removes its state directory.
func (s *Samba) Stop() {
	s.proc.stop()
	os.RemoveAll(s.state)
}

// stop ends the server's process group (smbd and sshd fork one child per
// client).
func (s *proc) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
}

// Remote is the rclone on-the-fly remote for the share root without the
// password (syncd takes it by reference).
func (s *Samba) Remote() string { return s.RemoteAt(s.Addr()) }

// RemoteAt is Remote through addr (host:port: a proxy in front of smbd).
func (s *Samba) RemoteAt(addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	return ":smb,host=" + host + ",port=" + port + ",user=" + s.User + ":" + s.Share
}

// Addr is smbd's host:port.
func (s *Samba) Addr() string { return s.Host + ":" + strconv.Itoa(s.Port) }

// CLIRemote is Remote with the obscured password inlined, for the rclone
// command line.
func (s *Samba) CLIRemote() string { return s.CLIRemoteAt(s.Addr()) }

// CLIRemoteAt is CLIRemote through addr.
func (s *Samba) CLIRemoteAt(addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	return ":smb,host=" + host + ",port=" + port + ",user=" + s.User +
		",pass=" + obscure.MustObscure(s.Password) + ":" + s.Share
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
