package servers

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestSambaServesOnLoopback(t *testing.T) {
	if os.Getuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("smbd needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	s, err := StartSamba(ctx, dir)
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), 5*time.Second)
	if err != nil {
		t.Fatalf("smbd does not accept connections: %v\n%s", err, s.Log())
	}
	c.Close()
	if s.Host != "127.0.0.1" || s.Password == "" || s.CLIRemote() == s.Remote() {
		t.Fatalf("samba %+v: remote %q", s, s.CLIRemote())
	}
	s.Stop()
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), time.Second); err == nil {
		c.Close()
		t.Fatal("smbd still accepts connections after Stop")
	}
}
