package graphfake

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// NewTLS starts a fake over HTTPS that also plays the Microsoft identity
// platform (authority host) for app-only client credentials: OpenID
// configuration and the v2.0 token endpoint. CertPEM is its certificate.
func NewTLS() *Server {
	s := newServer()
	s.srv = httptest.NewTLSServer(s)
	return s
}

// CertPEM returns the server certificate in PEM (empty for plain HTTP),
// to be trusted by a client (ca_file).
func (s *Server) CertPEM() []byte {
	if s.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// AuthorityURL is the authority host to configure (authority_host).
func (s *Server) AuthorityURL() string { return s.srv.URL + "/" }

// SetClientSecret makes the token endpoint accept only this client id and
// secret (client_credentials), and Graph only the tokens it issued.
func (s *Server) SetClientSecret(clientID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientID, s.clientSecret = clientID, secret
	s.Token = "fake-token-for-" + clientID
}

// TokensIssued returns how many access tokens the token endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// isAuthRoute reports whether segs is an identity-platform route:
// {tenant}/v2.0/.well-known/openid-configuration or {tenant}/oauth2/v2.0/token.
func isAuthRoute(segs []string) bool {
	return (len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration") ||
		(len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token")
}

func (s *Server) serveAuth(w http.ResponseWriter, r *http.Request, segs []string) {
	tenant := segs[0]
	base := s.srv.URL + "/" + tenant
	if segs[1] == "v2.0" {
		writeJSON(w, http.StatusOK, obj{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/v2.0",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
		})
		return
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		oauthError(w, "invalid_request", "POST a form")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		oauthError(w, "unsupported_grant_type", "only client_credentials")
	case !strings.Contains(r.PostForm.Get("scope"), "/.default"):
		oauthError(w, "invalid_scope", "scope must name a resource /.default")
	case s.clientID != "" && r.PostForm.Get("client_id") != s.clientID:
		oauthError(w, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
	case r.PostForm.Get("client_assertion") != "":
		if !s.assertionOK(r.PostForm.Get("client_assertion_type"), r.PostForm.Get("client_assertion")) {
			oauthError(w, "invalid_client", "AADSTS700027: Client assertion failed signature validation.")
			return
		}
		s.issue(w)
	case s.clientID != "" && r.PostForm.Get("client_secret") != s.clientSecret:
		oauthError(w, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
	default:
		s.issue(w)
	}
}

func (s *Server) issue(w http.ResponseWriter) {
	s.tokens++
	tok := s.Token
	if tok == "" {
		tok = fmt.Sprintf("fake-token-%d", s.tokens)
	}
	writeJSON(w, http.StatusOK, obj{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// assertionOK checks a certificate client assertion: a JWT bearer
// assertion with three parts whose header names the certificate (x5t).
// The signature is not verified.
func (s *Server) assertionOK(typ, jwt string) bool {
	if typ != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return false
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	return err == nil && strings.Contains(string(hdr), "x5t")
}

func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, obj{"error": code, "error_description": desc})
}
