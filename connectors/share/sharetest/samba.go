package sharetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rclone/rclone/fs/config/obscure"
)

// Samba is a running smbd serving one directory as share "data".
type Samba struct {
	*server
	Host     string
	Port     int
	User     string // an SMB user in the server's own passdb
	Password string
	Share    string
	Dir      string // the shared directory
}

// StartSamba starts smbd on a loopback port serving dir as share "data",
// with its smb.conf, passdb, locks and logs in a temporary directory.
// Files are accessed as user nobody (force user), so file permissions
// apply even when the test runs as root: dir must be readable by nobody
// (see ShareDir). The server stops when the test ends.
func StartSamba(t testing.TB, dir string) *Samba {
	t.Helper()
	smbd := Require(t, "smbd")
	smbpasswd := Require(t, "smbpasswd")
	requireRoot(t, "smbd")
	state, err := os.MkdirTemp("", "sharetest-smb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc"} {
		if err := os.Mkdir(filepath.Join(state, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &Samba{Host: "127.0.0.1", Port: freePort(t), User: "root", Password: randomHex(t), Share: "data", Dir: dir}
	conf := filepath.Join(state, "smb.conf")
	if err := os.WriteFile(conf, []byte(SambaConf(s.Port, state, s.Share, s.Dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, s.Password+"\n"+s.Password+"\n", smbpasswd, "-c", conf, "-a", "-s", s.User)
	s.server = start(t, "smbd", "waiting for connections",
		smbd, "--foreground", "--no-process-group", "--debug-stdout", "--configfile="+conf)
	return s
}

// SambaConf is the smb.conf of a private smbd on 127.0.0.1:port keeping all
// its state under state and serving dir read-only as share (the benchmark
// starts its own smbd with it too).
func SambaConf(port int, state, share, dir string) string {
	p := func(d string) string { return filepath.Join(state, d) }
	return fmt.Sprintf(`[global]
  server role = standalone server
  smb ports = %d
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  private dir = %s
  lock directory = %s
  state directory = %s
  cache directory = %s
  pid directory = %s
  ncalrpc dir = %s
  log file = %s
  log level = 2
  passdb backend = tdbsam:%s
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  server min protocol = SMB2_10
  unix charset = UTF-8
[%s]
  path = %s
  read only = yes
  force user = nobody
`, port, p("private"), p("lock"), p("state"), p("cache"), p("pid"), p("ncalrpc"),
		p("smbd.log"), p("private/passdb.tdb"), share, dir)
}

// Remote is the rclone on-the-fly remote for sub (a folder path within
// the share, "" for its root), without the password: give it to the
// source by reference (password_env) so it is obscured in memory.
func (s *Samba) Remote(sub string) string {
	r := ":smb,host=" + s.Host + ",port=" + strconv.Itoa(s.Port) + ",user=" + s.User + ":" + s.Share
	if sub != "" {
		r += "/" + sub
	}
	return r
}

func randomHex(t testing.TB) string {
	k, err := randomKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// randomKey is 24 random hex digits.
func randomKey() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// CLIRemote is Remote with the password inlined (obscured), for the
// rclone command line in benchmarks.
func (s *Samba) CLIRemote(sub string) string {
	r := ":smb,host=" + s.Host + ",port=" + strconv.Itoa(s.Port) + ",user=" + s.User +
		",pass=" + obscure.MustObscure(s.Password) + ":" + s.Share
	if sub != "" {
		r += "/" + sub
	}
	return r
}
