package sharetest

import (
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/net/webdav"
)

// WebDAV is an in-process WebDAV server (golang.org/x/net/webdav) on
// loopback serving one directory, behind basic authentication.
type WebDAV struct {
	URL      string
	User     string
	Password string
	srv      *httptest.Server
}

// StartWebDAV serves dir over WebDAV until the test ends.
func StartWebDAV(t testing.TB, dir string) *WebDAV {
	t.Helper()
	w := &WebDAV{User: "svc-syncd", Password: randomHex(t)}
	dav := &webdav.Handler{FileSystem: webdav.Dir(dir), LockSystem: webdav.NewMemLS()}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != w.User || subtle.ConstantTimeCompare([]byte(p), []byte(w.Password)) != 1 {
			rw.Header().Set("WWW-Authenticate", `Basic realm="sharetest"`)
			http.Error(rw, "unauthorised", http.StatusUnauthorized)
			return
		}
		dav.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	w.URL = w.srv.URL
	return w
}

// Remote is the rclone on-the-fly remote for the served directory, without
// the password (give it by reference).
func (w *WebDAV) Remote() string {
	return ":webdav,url='" + w.URL + "',user=" + w.User + ":"
}

// Stop closes the server and its connections.
func (w *WebDAV) Stop() { w.srv.CloseClientConnections(); w.srv.Close() }
