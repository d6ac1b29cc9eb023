package serve

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC signs people in with OpenID Connect (the authorization code flow
// with PKCE and a nonce; Microsoft Entra ID is the reference provider)
// and keeps them signed in with a session cookie: HttpOnly, SameSite=Lax,
// Secure when the redirect URL is https, signed (HMAC-SHA256) with the
// session key, holding the name and roles worked out at sign-in.
type OIDC struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL is this server's /auth/callback as the provider knows
	// it (https://syncd.example.gov.uk/auth/callback).
	RedirectURL string
	Scopes      []string // default openid, profile, email
	NameClaim   string   // default preferred_username (then email, then sub)
	GroupsClaim string   // default groups
	// Users and Groups give roles: a person's own (by name), and those of
	// each group the groups claim lists (Entra ID: group object ids).
	Users, Groups map[string]map[string]Role
	SessionKey    []byte        // at least 32 bytes
	Session       time.Duration // default 8 h

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	now      func() time.Time
}

const (
	sessionCookie = "syncd_session"
	flowCookie    = "syncd_oidc"
)

// ready discovers the provider once; a provider that cannot be reached
// is asked again at the next sign-in.
func (o *OIDC) ready(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return nil
	}
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return fmt.Errorf("sign-in: discover %s: %w", o.Issuer, err)
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	o.provider = p
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.ClientID, Now: o.clock})
	o.oauth = oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURL, Endpoint: p.Endpoint(), Scopes: scopes}
	return nil
}

func (o *OIDC) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

func (o *OIDC) secure() bool { return strings.HasPrefix(o.RedirectURL, "https://") }

// flow is what the sign-in keeps between the redirect to the provider
// and its answer (in a signed cookie, ten minutes).
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

// session is the signed-in person.
type session struct {
	Name    string          `json:"n"`
	Roles   map[string]Role `json:"r,omitempty"`
	Expires int64           `json:"e"`
}

// seal signs v: base64url(JSON) "." base64url(HMAC-SHA256).
func (o *OIDC) seal(kind string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + base64.RawURLEncoding.EncodeToString(o.mac(kind, p)), nil
}

func (o *OIDC) mac(kind, payload string) []byte {
	m := hmac.New(sha256.New, o.SessionKey)
	m.Write([]byte(kind + "\x00" + payload))
	return m.Sum(nil)
}

// open checks a sealed value and decodes it into v.
func (o *OIDC) open(kind, s string, v any) bool {
	p, sig, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, o.mac(kind, p)) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	return err == nil && json.Unmarshal(b, v) == nil
}

// fromCookie is the principal of a valid, unexpired session cookie.
func (o *OIDC) fromCookie(r *http.Request) *Principal {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	var s session
	if !o.open(sessionCookie, c.Value, &s) || o.clock().Unix() >= s.Expires || s.Name == "" {
		return nil
	}
	p := NewPrincipal(s.Name, s.Roles)
	p.session = true
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// localPath keeps next only if it is a path on this server: never
// another site ("//evil.example", "/\evil", "https://...").
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// login starts the authorization code flow.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	o := s.Auth.oidc
	if o == nil {
		s.fail(w, r, http.StatusNotFound, "this server signs in with API tokens only")
		return
	}
	if err := o.ready(r.Context()); err != nil {
		s.logger().Error("sign-in", "err", err)
		s.fail(w, r, http.StatusBadGateway, "the sign-in service cannot be reached; try again in a minute")
		return
	}
	f := flow{State: randomHex(16), Nonce: randomHex(16), Verifier: oauth2.GenerateVerifier(),
		Next: localPath(r.URL.Query().Get("next")), Expires: o.clock().Add(10 * time.Minute).Unix()}
	v, err := o.seal(flowCookie, f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: v, Path: "/auth/", MaxAge: 600, HttpOnly: true, Secure: o.secure(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, o.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// callback finishes the flow: the state and nonce must be this
// browser's, the ID token the provider's, for this client, unexpired.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	o := s.Auth.oidc
	if o == nil {
		s.fail(w, r, http.StatusNotFound, "this server signs in with API tokens only")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		s.fail(w, r, http.StatusForbidden, "the sign-in service refused: "+e+" "+q.Get("error_description"))
		return
	}
	var f flow
	c, err := r.Cookie(flowCookie)
	if err != nil || !o.open(flowCookie, c.Value, &f) || o.clock().Unix() >= f.Expires ||
		subtle.ConstantTimeCompare([]byte(f.State), []byte(q.Get("state"))) != 1 {
		s.fail(w, r, http.StatusBadRequest, "this sign-in was not started here, or took too long: sign in again")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: "/auth/", MaxAge: -1, HttpOnly: true, Secure: o.secure(), SameSite: http.SameSiteLaxMode})
	if err := o.ready(r.Context()); err != nil {
		s.fail(w, r, http.StatusBadGateway, "the sign-in service cannot be reached; try again in a minute")
		return
	}
	name, roles, err := o.identify(r.Context(), q.Get("code"), f)
	if err != nil {
		s.logger().Warn("sign-in refused", "err", err)
		s.fail(w, r, http.StatusForbidden, "sign-in failed: the sign-in service's answer could not be verified")
		return
	}
	p := NewPrincipal(name, roles)
	if s.audit(r, p, "serve.signin", name, "", "", "") != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nobody is signed in")
		return
	}
	life := o.Session
	if life <= 0 {
		life = 8 * time.Hour
	}
	v, err := o.seal(sessionCookie, session{Name: name, Roles: roles, Expires: o.clock().Add(life).Unix()})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", MaxAge: int(life.Seconds()), HttpOnly: true, Secure: o.secure(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// identify exchanges the code (with the PKCE verifier), verifies the ID
// token and its nonce, and works out the person's name and roles.
func (o *OIDC) identify(ctx context.Context, code string, f flow) (string, map[string]Role, error) {
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return "", nil, fmt.Errorf("token exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return "", nil, errors.New("no id_token in the token response")
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return "", nil, err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return "", nil, errors.New("the ID token's nonce is not this sign-in's")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return "", nil, err
	}
	nameClaim := o.NameClaim
	if nameClaim == "" {
		nameClaim = "preferred_username"
	}
	name := ""
	for _, k := range []string{nameClaim, "email", "sub"} {
		if v, ok := claims[k].(string); ok && v != "" {
			name = v
			break
		}
	}
	if name == "" {
		return "", nil, errors.New("the ID token names nobody")
	}
	roles := map[string]Role{}
	grant := func(rs map[string]Role) {
		for ws, r := range rs {
			roles[ws] = max(roles[ws], r)
		}
	}
	grant(o.Users[name])
	groupsClaim := o.GroupsClaim
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	if gs, ok := claims[groupsClaim].([]any); ok {
		for _, g := range gs {
			if g, ok := g.(string); ok {
				grant(o.Groups[g])
			}
		}
	}
	return name, roles, nil
}

// logout ends the session (a form post: cross-site posts are refused).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	secure := s.Auth.oidc != nil && s.Auth.oidc.secure()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
}

func (s *Server) signedOut(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "signedout.html", map[string]any{"Title": "Signed out", "OIDC": s.Auth.oidc != nil})
}
