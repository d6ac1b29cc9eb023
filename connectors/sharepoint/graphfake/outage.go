package graphfake

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Refuse simulates an outage: the server stops listening and drops its
// open connections, so requests fail (connection refused or reset) until
// Accept. Its state (drives, versions, delta positions) is kept.
func (s *Server) Refuse() {
	s.srv.Listener.Close()
	s.srv.CloseClientConnections()
}

// Accept ends an outage begun by Refuse: the server listens again on the
// same address, so URL() and the links it handed out stay valid.
func (s *Server) Accept() error {
	addr := s.srv.Listener.Addr().String()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("graphfake: listen again on %s: %w", addr, err)
	}
	s.srv.Listener = l
	go s.srv.Config.Serve(l)
	return nil
}

// Gate sits in front of a Server's handler and can start an outage at an
// exact request: see RefuseAfter.
type Gate struct {
	s       *Server
	mu      sync.Mutex
	armed   bool
	left    int
	tripped chan struct{}
}

// NewGated is NewFromManifest with a Gate in front of the handler, for
// fault tests that take the server down at the n-th request.
func NewGated(dir string) (*Server, *Gate, error) {
	s := newServer()
	g := &Gate{s: s}
	s.srv = httptest.NewServer(g)
	if err := s.LoadManifest(dir); err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, g, nil
}

// RefuseAfter arms the gate: the next n requests are served, and the one
// after them is not: the server calls Refuse (dropping that request's
// connection with the others) and the returned channel is closed. Accept
// ends the outage.
func (g *Gate) RefuseAfter(n int) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.left, g.tripped = true, n, make(chan struct{})
	return g.tripped
}

// ServeHTTP implements http.Handler.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	trip := false
	if g.armed {
		if g.left == 0 {
			trip, g.armed = true, false
		} else {
			g.left--
		}
	}
	g.mu.Unlock()
	if trip {
		g.s.Refuse()
		close(g.tripped)
		panic(http.ErrAbortHandler)
	}
	g.s.ServeHTTP(w, r)
}
