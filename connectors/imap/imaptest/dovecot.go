package imaptest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoDovecot is returned when the dovecot binary is not installed.
var ErrNoDovecot = errors.New("imaptest: dovecot not installed (Debian package dovecot-imapd)")

// Dovecot is a private Dovecot instance on a loopback port: its own config,
// passwd-file, Maildirs and runtime directory under Dir.
type Dovecot struct {
	Server
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
	log  *logTail
}

const dovecotConf = `# written by syncd imaptest
base_dir = {{DIR}}/run
state_dir = {{DIR}}/state
log_path = /dev/stderr
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {{IUSER}}
default_login_user = {{LUSER}}
first_valid_uid = {{UID}}
last_valid_uid = 0
mail_location = maildir:{{DIR}}/mail/%u
mail_fsync = never
mail_uid = {{UID}}
mail_gid = {{GID}}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
  }
  mailbox Trash {
    special_use = \Trash
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{DIR}}/passwd
}
userdb {
  driver = static
  args = uid={{UID}} gid={{GID}} home={{DIR}}/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = {{PORT}}
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
}
`

// StartDovecotServer starts an empty Dovecot with the given accounts
// (password Password) on a free loopback port. ctx bounds the start-up.
func StartDovecotServer(ctx context.Context, users []string) (*Dovecot, error) {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dovecot"); serr != nil {
			return nil, ErrNoDovecot
		}
		bin = "/usr/sbin/dovecot"
	}
	dir, err := os.MkdirTemp("", "syncd-dovecot-")
	if err != nil {
		return nil, err
	}
	d := &Dovecot{Dir: dir, done: make(chan struct{})}
	if err := d.writeConfig(users); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := d.start(ctx, bin); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.Users = append([]string(nil), users...)
	d.Stop = d.stop
	return d, nil
}

// StartDovecot starts Dovecot seeded from a mail tree (see the package
// comment).
func StartDovecot(ctx context.Context, dir string) (*Server, error) {
	tree, err := ReadTree(dir)
	if err != nil {
		return nil, err
	}
	d, err := StartDovecotServer(ctx, tree.Accounts())
	if err != nil {
		return nil, err
	}
	for _, acct := range tree.Accounts() {
		if err := Load(ctx, d.Addr, acct, Password, tree[acct]); err != nil {
			d.Stop()
			return nil, err
		}
	}
	return &d.Server, nil
}

// mailOwner picks the uid/gid owning the Maildirs: Dovecot refuses uid 0,
// so when running as root use the "dovecot" system user.
func mailOwner() (uid, gid int, iuser, luser string, err error) {
	uid, gid = os.Getuid(), os.Getgid()
	if uid != 0 {
		u, err := user.Current()
		if err != nil {
			return 0, 0, "", "", err
		}
		return uid, gid, u.Username, u.Username, nil
	}
	u, lerr := user.Lookup("dovecot")
	if lerr != nil {
		return 0, 0, "", "", fmt.Errorf("imaptest: running as root needs the dovecot system user: %w", lerr)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	luser = "dovenull"
	if _, err := user.Lookup(luser); err != nil {
		luser = "dovecot"
	}
	return uid, gid, "dovecot", luser, nil
}

func (d *Dovecot) writeConfig(users []string) error {
	uid, gid, iuser, luser, err := mailOwner()
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	d.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for _, sub := range []string{"run", "state", "mail", "home"} {
		if err := os.MkdirAll(filepath.Join(d.Dir, sub), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(d.Dir, 0o755); err != nil {
		return err
	}
	for _, sub := range []string{"mail", "home"} {
		if err := os.Chown(filepath.Join(d.Dir, sub), uid, gid); err != nil {
			return err
		}
	}
	var pw strings.Builder
	for _, u := range users {
		fmt.Fprintf(&pw, "%s:{PLAIN}%s\n", u, Password)
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "passwd"), []byte(pw.String()), 0o644); err != nil {
		return err
	}
	conf := strings.NewReplacer("{{DIR}}", d.Dir, "{{PORT}}", strconv.Itoa(port), "{{UID}}", strconv.Itoa(uid),
		"{{GID}}", strconv.Itoa(gid), "{{IUSER}}", iuser, "{{LUSER}}", luser).Replace(dovecotConf)
	return os.WriteFile(filepath.Join(d.Dir, "dovecot.conf"), []byte(conf), 0o644)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs dovecot -F and waits until it accepts connections: the log
// line "starting up" says the listeners exist.
func (d *Dovecot) start(ctx context.Context, bin string) error {
	d.cmd = exec.Command(bin, "-F", "-c", filepath.Join(d.Dir, "dovecot.conf"))
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("imaptest: start dovecot: %w", err)
	}
	d.log = &logTail{ready: make(chan struct{})}
	go d.log.consume(stderr)
	go func() { d.cmd.Wait(); close(d.done) }()
	select {
	case <-d.log.ready:
		return nil
	case <-d.done:
		return fmt.Errorf("imaptest: dovecot exited: %s", d.log.String())
	case <-ctx.Done():
		d.stop()
		return ctx.Err()
	case <-time.After(30 * time.Second):
		d.stop()
		return fmt.Errorf("imaptest: dovecot did not start in 30s: %s", d.log.String())
	}
}

func (d *Dovecot) stop() error {
	if d.cmd.Process != nil {
		d.cmd.Process.Signal(os.Interrupt)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
	}
	return os.RemoveAll(d.Dir)
}

// Log returns what Dovecot logged (the last 64 KiB).
func (d *Dovecot) Log() string { return d.log.String() }

type logTail struct {
	mu    sync.Mutex
	buf   []byte
	ready chan struct{}
	once  sync.Once
}

func (l *logTail) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		l.buf = append(l.buf, line...)
		l.buf = append(l.buf, '\n')
		if len(l.buf) > 64<<10 {
			l.buf = l.buf[len(l.buf)-64<<10:]
		}
		l.mu.Unlock()
		if strings.Contains(line, "starting up") {
			l.once.Do(func() { close(l.ready) })
		}
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
