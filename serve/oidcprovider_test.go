package serve

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testProvider is a minimal OpenID Connect provider for the tests: the
// discovery document, a JWKS, an authorization endpoint that signs in
// whoever the test chose (no form), and a token endpoint that checks the
// client secret, the code, the redirect URI and the PKCE verifier, and
// returns an RS256 ID token with the nonce, a name and groups.
type testProvider struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	secret   string

	mu     sync.Mutex
	user   string   // who the next authorization signs in
	groups []string // and their groups
	codes  map[string]grant
	// tamper changes the next ID token's claims (a wrong nonce, audience...).
	tamper func(map[string]any)
}

type grant struct {
	user, nonce, challenge, redirect string
	groups                           []string
}

func newTestProvider(t testing.TB) *testProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProvider{key: key, clientID: "syncd-test", secret: "client-secret-0123456789", codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
			"jwks_uri": p.srv.URL + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != p.clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		code := randomHex(8)
		p.codes[code] = grant{user: p.user, groups: p.groups, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		p.mu.Lock()
		g, found := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code")) // a code is good once
		tamper := p.tamper
		p.tamper = nil
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case id != p.clientID || secret != p.secret:
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		case !found || g.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		now := time.Now()
		claims := map[string]any{"iss": p.srv.URL, "aud": p.clientID, "sub": "sub-" + g.user, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"nonce": g.nonce, "preferred_username": g.user, "groups": g.groups}
		if tamper != nil {
			tamper(claims)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + randomHex(8), "token_type": "Bearer", "expires_in": 3600, "id_token": p.sign(t, claims)})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testProvider) sign(t testing.TB, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signInAs makes the next authorization sign in user with groups.
func (p *testProvider) signInAs(user string, groups ...string) {
	p.mu.Lock()
	p.user, p.groups = user, groups
	p.mu.Unlock()
}

// oidcFor is the serve side of p for a server at base.
func (p *testProvider) oidcFor(base string) *OIDC {
	return &OIDC{
		Issuer: p.srv.URL, ClientID: p.clientID, ClientSecret: p.secret, RedirectURL: base + "/auth/callback",
		Users:      map[string]map[string]Role{"alice": {"finance": Curator}},
		Groups:     map[string]map[string]Role{"g-legal": {"legal": Viewer}, "g-finance": {"finance": Viewer}, "g-all": {"*": Viewer}},
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
	}
}
