package servers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/syncd/syncd/connectors/share/sharetest"
)

// SFTP is a private OpenSSH sshd (internal-sftp) on a loopback port that
// accepts one generated user key.
type SFTP struct {
	Host, User, KeyFile, KnownHosts string
	Port                            int

	state   string
	hostPub string
	proc
}

// StartSFTP starts sshd as the current user's server (it must run as
// root: sshd does). ctx bounds start-up.
func StartSFTP(ctx context.Context) (*SFTP, error) {
	sshd, err := lookPath("sshd")
	if err != nil {
		return nil, err
	}
	keygen, err := lookPath("ssh-keygen")
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "bench-sshd-")
	if err != nil {
		return nil, err
	}
	s := &SFTP{Host: "127.0.0.1", User: u.Username, Port: port, state: state,
		KeyFile: filepath.Join(state, "id_ed25519"), KnownHosts: filepath.Join(state, "known_hosts")}
	hostKey := filepath.Join(state, "host_ed25519")
	for _, args := range [][]string{
		{"-q", "-t", "ed25519", "-N", "", "-C", "bench-host", "-f", hostKey},
		{"-q", "-t", "ed25519", "-N", "", "-C", "bench-user", "-f", s.KeyFile},
	} {
		if out, err := exec.CommandContext(ctx, keygen, args...).CombinedOutput(); err != nil {
			os.RemoveAll(state)
			return nil, fmt.Errorf("servers: ssh-keygen: %w: %s", err, out)
		}
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err == nil {
		s.hostPub = strings.TrimSpace(string(pub))
		err = s.KnowPort(s.Port)
	}
	var userPub []byte
	if err == nil {
		userPub, err = os.ReadFile(s.KeyFile + ".pub")
	}
	authorized := filepath.Join(state, "authorized_keys")
	if err == nil {
		err = os.WriteFile(authorized, userPub, 0o600)
	}
	conf := filepath.Join(state, "sshd_config")
	if err == nil {
		err = os.WriteFile(conf, []byte(sharetest.SSHDConf(s.Port, s.Host, hostKey, authorized, s.User)), 0o600)
	}
	if err == nil {
		err = os.MkdirAll("/run/sshd", 0o755) // the privilege separation directory sshd insists on
	}
	if err != nil {
		os.RemoveAll(state)
		return nil, err
	}
	if err := s.proc.start(ctx, "Server listening on", sshd, "-D", "-e", "-f", conf); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// KnowPort adds the server's host key for port (a proxy in front of it)
// to KnownHosts.
func (s *SFTP) KnowPort(port int) error {
	f, err := os.OpenFile(s.KnownHosts, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "[%s]:%d %s\n", s.Host, port, s.hostPub)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Remote is the rclone on-the-fly remote for the absolute path dir at
// addr (host:port: the server, or a proxy in front of it), without the
// key: syncd takes it as key_file.
func (s *SFTP) Remote(addr, dir string) string {
	host, port, _ := strings.Cut(addr, ":")
	return ":sftp,host=" + host + ",port=" + port + ",user=" + s.User + ",known_hosts_file='" + s.KnownHosts + "':" + dir
}

// CLIRemote is Remote with the key file, for the rclone command line.
func (s *SFTP) CLIRemote(addr, dir string) string {
	host, port, _ := strings.Cut(addr, ":")
	return ":sftp,host=" + host + ",port=" + port + ",user=" + s.User + ",known_hosts_file='" + s.KnownHosts +
		"',key_file='" + s.KeyFile + "':" + dir
}

// Addr is the server's host:port.
func (s *SFTP) Addr() string { return s.Host + ":" + strconv.Itoa(s.Port) }

// Stop ends sshd and removes its keys.
func (s *SFTP) Stop() {
	s.proc.stop()
	os.RemoveAll(s.state)
}
