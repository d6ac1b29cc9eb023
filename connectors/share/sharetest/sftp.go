package sharetest

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// SFTP is a running OpenSSH sshd (internal-sftp) accepting one user key.
type SFTP struct {
	*server
	Host       string
	Port       int
	User       string // the current user: sshd logs in as it
	KeyFile    string // private key (ed25519, no passphrase)
	KnownHosts string // known_hosts naming the server's host key
}

// StartSFTP starts sshd on a loopback port with a generated host key and
// user key in a temporary directory. Paths in remotes are absolute paths
// on this machine. The server stops when the test ends.
func StartSFTP(t testing.TB) *SFTP {
	t.Helper()
	sshd := Require(t, "sshd")
	keygen := Require(t, "ssh-keygen")
	requireRoot(t, "sshd")
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// sshd checks that its config and keys are not writable by others.
	dir, err := os.MkdirTemp("", "sharetest-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &SFTP{Host: "127.0.0.1", Port: freePort(t), User: u.Username,
		KeyFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	hostKey := filepath.Join(dir, "host_ed25519")
	run(t, "", keygen, "-q", "-t", "ed25519", "-N", "", "-C", "sharetest-host", "-f", hostKey)
	run(t, "", keygen, "-q", "-t", "ed25519", "-N", "", "-C", "sharetest-user", "-f", s.KeyFile)
	authorized := filepath.Join(dir, "authorized_keys")
	copyFile(t, s.KeyFile+".pub", authorized)
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	known := fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, strings.TrimSpace(string(hostPub)))
	if err := os.WriteFile(s.KnownHosts, []byte(known+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(sshdConf(s, hostKey, authorized)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The privilege separation directory sshd insists on.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	s.server = start(t, "sshd", "Server listening on", sshd, "-D", "-e", "-f", conf)
	return s
}

func sshdConf(s *SFTP, hostKey, authorized string) string {
	return SSHDConf(s.Port, s.Host, hostKey, authorized, s.User)
}

// SSHDConf is the sshd_config of a private internal-sftp server on
// host:port that accepts user's keys in authorized (also used by the
// benchmark's servers).
func SSHDConf(port int, host, hostKey, authorized, user string) string {
	return fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
AllowUsers %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
LogLevel INFO
`, port, host, hostKey, authorized, user)
}

// Remote is the rclone on-the-fly remote for an absolute path dir, without
// the key: give it to the source as key_file.
func (s *SFTP) Remote(dir string) string {
	return ":sftp,host=" + s.Host + ",port=" + strconv.Itoa(s.Port) + ",user=" + s.User +
		",known_hosts_file='" + s.KnownHosts + "':" + dir
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// CLIRemote is Remote with the key file inlined, for the rclone command
// line in benchmarks.
func (s *SFTP) CLIRemote(dir string) string {
	return ":sftp,host=" + s.Host + ",port=" + strconv.Itoa(s.Port) + ",user=" + s.User +
		",known_hosts_file='" + s.KnownHosts + "',key_file='" + s.KeyFile + "':" + dir
}
