package latency

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// Bytes pass the proxy whole and in order, both ways, and Close ends its
// connections.
func TestProxyPassesBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }() // echo
		}
	}()
	p, err := Start(ln.Addr().String(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 3<<20)
	rand.Read(want)
	go func() { c.Write(want); c.(*net.TCPConn).CloseWrite() }()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("echoed %d bytes, sent %d (or they differ)", len(got), len(want))
	}
	c2, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c2.Write([]byte("x"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Ended (EOF or reset), not left hanging.
	c2.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadAll(c2); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a connection open at Close was not ended")
	}
}
