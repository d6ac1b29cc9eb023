// Package latency is a TCP proxy that delays every byte by a fixed time in
// each direction, so that a server on loopback answers as one across a
// network would: a request and its answer take 2*Delay more. Throughput
// is not capped: data read while earlier data waits is queued behind it.
package latency

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections from Addr to a target.
type Proxy struct {
	Addr   string // 127.0.0.1:port
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	open   map[net.Conn]bool
	closed bool
}

// Start listens on a loopback port and forwards each connection to
// target, delaying each direction by delay.
func Start(target string, delay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, open: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c, target, delay)
			}()
		}
	}()
	return p, nil
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && p.closed {
		c.Close() // accepted as the proxy closed
	} else if on {
		p.open[c] = true
	} else {
		delete(p.open, c)
	}
}

func (p *Proxy) serve(c net.Conn, target string, delay time.Duration) {
	s, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.track(c, true)
	p.track(s, true)
	defer func() {
		c.Close()
		s.Close()
		p.track(c, false)
		p.track(s, false)
	}()
	done := make(chan bool, 2)
	go func() { done <- pipe(s, c, delay) }()
	go func() { done <- pipe(c, s, delay) }()
	// A side that ended cleanly was half-closed on to the other; one that
	// failed takes both down.
	if clean := <-done; !clean {
		c.Close()
		s.Close()
	}
	<-done
}

type chunk struct {
	due  time.Time
	data []byte
}

// pipe copies from src to dst, each chunk written delay after it was
// read, and half-closes dst at src's end. clean: src ended with EOF and
// everything was written.
func pipe(dst, src net.Conn, delay time.Duration) (clean bool) {
	q := make(chan chunk, 4096)
	var readErr error
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()
	for ch := range q {
		if d := time.Until(ch.due); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(ch.data); err != nil {
			src.Close()
			for range q {
			}
			return false
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	return errors.Is(readErr, io.EOF)
}

// Close stops the proxy and its connections.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
