// Package graphfake is an in-process Microsoft Graph server for the
// SharePoint connector's tests, benchmarks and `syncd demo`. It serves the
// routes msgraph-sdk-go calls for sites, drives, drive delta, versions and
// content in the shapes Microsoft documents (absolute @odata.nextLink /
// @odata.deltaLink, versions newest first, 302 to a pre-authenticated
// download URL that refuses an Authorization header and honours Range,
// 410 resync, 429 with Retry-After, Graph error bodies), and can be
// scripted from tests (new versions, renames, moves, deletes, faults on
// the Nth request of a route, request counts).
package graphfake

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Route names used by Count and Rule.
const (
	RouteSite           = "site"
	RouteDrives         = "drives" // the drives of a site
	RouteDrive          = "drive"  // one drive (by id or a user's)
	RouteDelta          = "delta"
	RouteItem           = "item"
	RouteVersions       = "versions"
	RouteVersion        = "version"
	RouteContent        = "content"         // items/{id}/content
	RouteVersionContent = "version-content" // items/{id}/versions/{vid}/content
	RouteDownload       = "download"        // the pre-authenticated URL
	RouteAuth           = "auth"            // identity platform (NewTLS)
	RouteAny            = "*"
)

// Server is a running fake Graph endpoint.
type Server struct {
	srv *httptest.Server

	// PageSize is the number of items per delta page (default 200).
	PageSize int
	// Token, if set, is the only bearer token accepted; otherwise any
	// non-empty bearer token is.
	Token string

	mu         sync.Mutex
	sites      []*Site
	drives     map[string]*Drive
	driveOrder []string
	users      map[string]string
	ids        int64
	counts     map[string]int
	total      int
	rules      []*rule
	clock      func() time.Time
	userAgent  string
	ranges     int
	// identity platform (auth.go)
	clientID, clientSecret string
	tokens                 int
	fields                 map[string]obj // quirks.go
}

// New starts a fake on a loopback port.
func New() *Server {
	s := newServer()
	s.srv = httptest.NewServer(s)
	return s
}

// Listen starts a fake on addr (e.g. "127.0.0.1:8765") for `syncd demo`.
func Listen(addr string) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("graphfake: listen %s: %w", addr, err)
	}
	s := newServer()
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	return s, nil
}

func newServer() *Server {
	return &Server{PageSize: 200, drives: map[string]*Drive{}, users: map[string]string{},
		counts: map[string]int{}, clock: time.Now}
}

// URL is the Graph base URL to configure as graph_url ("http://127.0.0.1:N/v1.0").
func (s *Server) URL() string { return s.srv.URL + "/v1.0" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) now() time.Time { return s.clock().UTC().Truncate(time.Second) }

// Count returns how many requests a route has served (RouteAny: all).
func (s *Server) Count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route == RouteAny {
		return s.total
	}
	return s.counts[route]
}

// Counts returns a copy of the per-route request counts.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetCounts zeroes the request counts.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.total = 0
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		s.graphError(w, http.StatusBadRequest, "invalidRequest", "bad path "+r.URL.Path)
		return
	}
	rt := route(segs)
	f := s.record(rt, r)
	for k, v := range f.Headers {
		w.Header().Set(k, v)
	}
	if f.Status != 0 {
		s.fault(w, r, segs, f)
		return
	}
	if isAuthRoute(segs) {
		s.serveAuth(w, r, segs)
		return
	}
	if rt == RouteDownload {
		s.download(w, r, segs, f.DropAfter)
		return
	}
	if !s.authorized(r) {
		s.graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	if r.Method != http.MethodGet {
		s.graphError(w, http.StatusMethodNotAllowed, "invalidRequest", "only GET is served")
		return
	}
	s.dispatch(w, r, segs)
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	return s.Token == "" || tok == s.Token
}
