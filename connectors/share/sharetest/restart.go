package sharetest

import "testing"

// restart starts a stopped server again with the same command line (same
// port, configuration and state) and waits until it is ready.
func (s *server) restart(t testing.TB, ready string) *server {
	t.Helper()
	s.Stop()
	return start(t, s.name, ready, s.cmd.Args...)
}

// Restart starts smbd again after Stop, on the same port with the same
// share, passdb and state. A running server is stopped first.
func (s *Samba) Restart(t testing.TB) {
	t.Helper()
	s.server = s.server.restart(t, "waiting for connections")
}

// Restart starts sshd again after Stop, on the same port with the same
// keys. A running server is stopped first.
func (s *SFTP) Restart(t testing.TB) {
	t.Helper()
	s.server = s.server.restart(t, "Server listening on")
}
