package serve

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// oidcServer serves the fixture with sign-in through p only (no tokens
// count here, no local role).
func oidcServer(t *testing.T, f *fixture, p *testProvider) (base string, o *OIDC) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base = "http://" + srv.Listener.Addr().String()
	o = p.oidcFor(base)
	f.srv.Auth = NewAuth(nil, None, true).WithOIDC(o)
	f.srv.Listen = srv.Listener.Addr().String()
	srv.Config.Handler = f.srv.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return base, o
}

// browserish is a client with a cookie jar that follows redirects.
func browserish(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOIDCSignIn: a person's browser is sent to the provider and back,
// signed in with the roles of their name and groups; the session cookie
// is HttpOnly and SameSite, signed, and ends; a wrong state, nonce or
// audience signs nobody in; next never leaves the server.
func TestOIDCSignIn(t *testing.T) {
	f := newFixture(t, fixDocs)
	p := newTestProvider(t)
	base, o := oidcServer(t, f, p)

	// Step by step once, to see the cookies.
	jar, _ := cookiejar.New(nil)
	step := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	p.signInAs("alice")
	resp, _ := fetch(t, step, "GET", base+"/d/d-budget", nil)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login?next=") {
		t.Fatalf("an anonymous browser: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	loc := base + resp.Header.Get("Location")
	var session *http.Cookie
	for hop := 0; hop < 5 && session == nil; hop++ {
		resp, _ = fetch(t, step, "GET", loc, nil)
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie && c.Value != "" {
				session = c
			}
		}
		if l := resp.Header.Get("Location"); strings.HasPrefix(l, "/") {
			loc = base + l
		} else {
			loc = l
		}
	}
	if session == nil {
		t.Fatal("no session cookie after the provider's answer")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || session.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/ (not Secure over http)", session)
	}
	if loc != base+"/d/d-budget" {
		t.Errorf("after sign-in the browser goes to %q, want back to the document", loc)
	}
	if resp, body := fetch(t, step, "GET", loc, nil); resp.StatusCode != 200 || !strings.Contains(body, "Signed in as <strong>alice</strong>") || !strings.Contains(body, `action="/auth/logout"`) {
		t.Fatalf("alice's document page: %d\n%s", resp.StatusCode, body)
	}
	// alice is a curator of finance only.
	if resp, _ := fetch(t, step, "GET", base+"/d/d-contract", nil); resp.StatusCode != 404 {
		t.Errorf("alice opened legal's contract: %d", resp.StatusCode)
	}
	// A cookie changed by one character is nobody's: sign in again.
	u, _ := url.Parse(base)
	forged := *session
	forged.Value = strings.Replace(forged.Value, "ey", "eY", 1)
	jar.SetCookies(u, []*http.Cookie{&forged})
	if resp, _ := fetch(t, step, "GET", base+"/d/d-budget", nil); resp.StatusCode != http.StatusFound {
		t.Errorf("a forged session cookie was accepted: %d", resp.StatusCode)
	}
	// A session past its end is nobody's.
	jar.SetCookies(u, []*http.Cookie{session})
	o.now = func() time.Time { return time.Now().Add(9 * time.Hour) }
	if resp, _ := fetch(t, step, "GET", base+"/d/d-budget", nil); resp.StatusCode != http.StatusFound {
		t.Errorf("an expired session was accepted: %d", resp.StatusCode)
	}
	o.now = nil

	// Groups give roles: bob is in g-legal.
	bob := browserish(t)
	p.signInAs("bob", "g-legal", "g-unknown")
	if resp, body := fetch(t, bob, "GET", base+"/d/d-contract", nil); resp.StatusCode != 200 || !strings.Contains(body, "Signed in as <strong>bob</strong>") {
		t.Errorf("bob's contract: %d", resp.StatusCode)
	}
	if resp, _ := fetch(t, bob, "GET", base+"/d/d-budget", nil); resp.StatusCode != 404 {
		t.Errorf("bob opened finance's budget: %d", resp.StatusCode)
	}
	// Sign out: the session ends; state-changing requests need one.
	if resp, _ := fetch(t, bob, "POST", base+"/auth/logout", url.Values{}); resp.Request.URL.Path != "/signed-out" {
		t.Errorf("sign out ends at %s", resp.Request.URL.Path)
	}
	p.signInAs("carol")
	if resp, body := fetch(t, bob, "GET", base+"/", nil); resp.StatusCode != 200 || !strings.Contains(body, "carol") || !strings.Contains(body, "no workspace") {
		t.Errorf("after sign-out the next sign-in is carol's, with no workspace: %d\n%s", resp.StatusCode, body)
	}
	anon := browserish(t)
	form, ct := upload(t, "a.txt", "budget final")
	req, _ := http.NewRequest("POST", base+"/check", form)
	req.Header.Set("Content-Type", ct)
	if resp, err := anon.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an anonymous post: %v %v", resp.StatusCode, err)
	}

	// A WebDAV client is not sent to sign in: 401 with the Basic
	// challenge, and a token as the password works.
	req, _ = http.NewRequest("GET", base+"/dav/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), "Basic") {
		t.Errorf("an anonymous WebDAV request: %v %v", resp.StatusCode, err)
	}
	// A wrong nonce or audience in the ID token signs nobody in.
	for what, tamper := range map[string]func(map[string]any){
		"nonce":    func(c map[string]any) { c["nonce"] = "not-this-one" },
		"audience": func(c map[string]any) { c["aud"] = "another-app" },
		"issuer":   func(c map[string]any) { c["iss"] = "https://evil.example" },
		"expiry":   func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() },
	} {
		p.mu.Lock()
		p.tamper = tamper
		p.mu.Unlock()
		c := browserish(t)
		resp, body := fetch(t, c, "GET", base+"/", nil)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "Signed in as") {
			t.Errorf("an ID token with a wrong %s: %d", what, resp.StatusCode)
		}
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == sessionCookie {
				t.Errorf("a wrong %s left a session cookie", what)
			}
		}
	}
	// A callback this browser did not start (no flow cookie, or another
	// state) is refused.
	if resp, _ := fetch(t, browserish(t), "GET", base+"/auth/callback?code=x&state=y", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback without a flow: %d", resp.StatusCode)
	}
	c := browserish(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	fetch(t, c, "GET", base+"/auth/login", nil)
	if resp, _ := fetch(t, c, "GET", base+"/auth/callback?code=x&state=forged", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback with another state: %d", resp.StatusCode)
	}
	// next never leaves the server.
	p.signInAs("alice")
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		resp, _ := fetch(t, browserish(t), "GET", base+"/auth/login?next="+url.QueryEscape(next), nil)
		if resp.Request.URL.Host != u.Host || resp.Request.URL.Path != "/" {
			t.Errorf("next=%q ended at %s", next, resp.Request.URL)
		}
	}
	var signins []string
	for _, a := range f.audits(t) {
		if a.Action == "serve.signin" {
			signins = append(signins, a.Actor)
		}
	}
	if strings.Join(signins, ",") != "alice,bob,carol,alice,alice,alice" {
		t.Errorf("sign-ins audited: %q", signins)
	}
}

// TestOIDCProviderDown: with the provider unreachable, sign-in says so
// (502) and works once it is back.
func TestOIDCProviderDown(t *testing.T) {
	f := newFixture(t, fixDocs)
	p := newTestProvider(t)
	base, o := oidcServer(t, f, p)
	o.Issuer = "http://127.0.0.1:1" // nothing listens there
	resp, body := fetch(t, browserish(t), "GET", base+"/", nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "cannot be reached") {
		t.Errorf("provider down: %d\n%s", resp.StatusCode, body)
	}
	o.Issuer = p.srv.URL
	p.signInAs("alice")
	if resp, body := fetch(t, browserish(t), "GET", base+"/", nil); resp.StatusCode != 200 || !strings.Contains(body, "alice") {
		t.Errorf("provider back: %d", resp.StatusCode)
	}

}
