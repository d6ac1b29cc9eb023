package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// Role is what a person may do in a workspace, weakest first.
type Role int

const (
	None Role = iota
	Viewer
	Curator
	Admin
)

// ParseRole reads a role's name ("" and "none" are None).
func ParseRole(s string) (Role, bool) {
	switch s {
	case "", "none":
		return None, true
	case "viewer":
		return Viewer, true
	case "curator":
		return Curator, true
	case "admin":
		return Admin, true
	}
	return None, false
}

func (r Role) String() string {
	return [...]string{"none", "viewer", "curator", "admin"}[r]
}

// Principal is who a request comes from and their roles.
type Principal struct {
	Name    string
	roles   map[string]Role // per workspace
	all     Role            // in every workspace ("*")
	session bool            // signed in with OpenID Connect (a session cookie)
}

// Session says whether p signed in through the browser (and may sign out).
func (p *Principal) Session() bool { return p != nil && p.session }

// NewPrincipal gives name the roles (workspace, or "*" for every one).
func NewPrincipal(name string, roles map[string]Role) *Principal {
	p := &Principal{Name: name, roles: map[string]Role{}}
	for ws, r := range roles {
		if ws == "*" {
			p.all = r
		} else {
			p.roles[ws] = r
		}
	}
	return p
}

// Role is the principal's role in workspace ws.
func (p *Principal) Role(ws string) Role {
	if p == nil {
		return None
	}
	return max(p.all, p.roles[ws])
}

// Token is an API token (the secret itself, resolved from its reference)
// and whom it signs in.
type Token struct {
	Secret string
	Who    *Principal
}

// Auth says who a request is.
type Auth struct {
	tokens []tokenSum
	// local is the role of a request without credentials from a loopback
	// address to a server that listens on loopback only.
	local Role
	oidc  *OIDC // sign-in with OpenID Connect, or nil
}

// WithOIDC adds sign-in with OpenID Connect.
func (a *Auth) WithOIDC(o *OIDC) *Auth {
	a.oidc = o
	return a
}

type tokenSum struct {
	sum [32]byte
	who *Principal
}

// NewAuth checks tokens by their SHA-256 (the secrets are not kept);
// local applies only when loopbackOnly (the server listens on loopback).
func NewAuth(tokens []Token, local Role, loopbackOnly bool) *Auth {
	a := &Auth{}
	for _, t := range tokens {
		a.tokens = append(a.tokens, tokenSum{sha256.Sum256([]byte(t.Secret)), t.Who})
	}
	if loopbackOnly {
		a.local = local
	}
	return a
}

// localName names the anonymous local user in the audit log.
const localName = "local"

// who finds the request's principal; bad is true when credentials were
// given and are wrong (401, not an anonymous view).
func (a *Auth) who(r *http.Request) (p *Principal, bad bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			// WebDAV clients (a mapped drive, rclone, cadaver) send
			// Basic: any user name, the token as the password.
			if _, pw, basic := r.BasicAuth(); basic {
				tok, ok = pw, true
			}
		}
		if !ok {
			return nil, true
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		var found *Principal
		for _, t := range a.tokens {
			if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
				found = t.who
			}
		}
		return found, found == nil
	}
	if a.oidc != nil {
		if p := a.oidc.fromCookie(r); p != nil {
			return p, false
		}
	}
	if a.local != None && fromLoopback(r) {
		return NewPrincipal(localName, map[string]Role{"*": a.local}), false
	}
	return nil, false
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HostServed says whether a request's Host header (host or host:port)
// names this server: a loopback name, the listen address's host, or one
// of also. A page on evil.example whose name resolves to 127.0.0.1 (DNS
// rebinding) names none of them. The status API and the web interface
// both ask it.
func HostServed(hostHeader, listen string, also ...string) bool {
	host := hostHeader
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	listenHost, _, _ := net.SplitHostPort(listen)
	ip := net.ParseIP(host)
	if strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback()) ||
		strings.EqualFold(host, listenHost) || (ip != nil && ip.Equal(net.ParseIP(listenHost))) {
		return true
	}
	for _, a := range also {
		if a != "" && strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}

// IsLoopback says whether addr (host:port) listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
