// Package serve is the workspace's web interface (`syncd serve`): the
// workspaces and their folders, each document's versions with where every
// copy was seen, downloads, search by name, and "is this the current
// version?" for a file someone holds. Pages are rendered on the server
// (html/template) and work without JavaScript; every view, download,
// search and check goes to the catalog's audit log.
package serve

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/internal/safetext"
	"github.com/syncd/syncd/workspace"
)

// Blobs is what serving needs of the blob store.
type Blobs interface {
	Open(ctx context.Context, id dedupe.ID) (io.ReadCloser, error)
}

// Server serves one store.
type Server struct {
	Cat   *workspace.Catalog
	Blobs Blobs
	Auth  *Auth
	Log   *slog.Logger
	// Listen is the address served: requests naming another host are
	// refused unless they carry a token (DNS rebinding).
	Listen string
	// MaxUpload bounds a checked file in bytes (default 1 GiB).
	MaxUpload int64
	// PageSize is the number of documents a listing shows (default 100).
	PageSize int
	// Correct applies a curator's correction (nil: none are taken).
	Correct Corrector
}

//go:embed templates/*.html static/*
var files embed.FS

// pages are parsed on first use, not when the package initialises: every
// syncd command links serve, one serves pages (process start).
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"pathEscape": url.PathEscape,
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "undated"
			}
			return t.UTC().Format("2006-01-02 15:04")
		},
		"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"size": report.HumanBytes,
		"add":  func(a, b int) int { return a + b },
		// shown is how every stranger's string reaches a page: control and
		// bidi characters made visible (html/template then escapes it).
		"shown": safetext.Visible,
		// shownLines is shown for extracted text: lines and tabs kept.
		"shownLines": safetext.VisibleLines,
	}).ParseFS(files, "templates/*.html"))
})

// Handler serves the interface.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /static/", http.FileServerFS(files))
	mux.HandleFunc("GET /auth/login", s.login)
	mux.HandleFunc("GET /auth/callback", s.callback)
	mux.HandleFunc("POST /auth/logout", s.logout)
	mux.HandleFunc("GET /signed-out", s.signedOut)
	mux.Handle("GET /{$}", s.signedIn(s.home))
	mux.Handle("GET /w/{ws}", s.signedIn(s.folder))
	mux.Handle("GET /w/{ws}/f/{folder...}", s.signedIn(s.folder))
	mux.Handle("GET /d/{doc}", s.signedIn(s.document))
	mux.Handle("GET /d/{doc}/v/{ver}", s.signedIn(s.document))
	mux.Handle("GET /d/{doc}/v/{ver}/download", s.signedIn(s.download))
	mux.Handle("POST /d/{doc}/correct", s.signedIn(s.correct))
	mux.Handle("GET /d/{doc}/compare", s.signedIn(s.compare))
	mux.Handle("GET /search", s.signedIn(s.search))
	mux.Handle("GET /w/{ws}/audit", s.signedIn(s.auditPage))
	mux.Handle("GET /w/{ws}/audit.csv", s.signedIn(s.auditCSV))
	mux.Handle("GET /d/{doc}/audit", s.signedIn(s.auditPage))
	mux.Handle("GET /d/{doc}/audit.csv", s.signedIn(s.auditCSV))
	mux.Handle("GET /check", s.signedIn(s.checkForm))
	mux.Handle("POST /check", s.signedIn(s.check))
	mux.Handle("/dav/", s.signedIn(s.dav))
	csrf := http.NewCrossOriginProtection()
	return s.headers(s.hostCheck(csrf.Handler(mux)))
}

// headers sets what every answer carries: no script may run (the pages
// have none), nothing is framed or sniffed, nothing is cached by a proxy.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "private, no-store")
		next.ServeHTTP(w, r)
	})
}

// hostCheck refuses a request without a token whose Host is neither a
// loopback name, the listen address nor the host of the sign-in's
// redirect URL (the name people use, behind a proxy): a page on
// evil.example resolving to 127.0.0.1 must not read the workspace as the
// local user.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	public := ""
	if o := s.Auth.oidc; o != nil {
		if u, err := url.Parse(o.RedirectURL); err == nil {
			public = u.Hostname()
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && r.URL.Path != "/healthz" && !HostServed(r.Host, s.Listen, public) {
			http.Error(w, "this server does not answer for that host name", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// signedIn runs h for a request from someone: 401 without credentials.
func (s *Server) signedIn(h func(http.ResponseWriter, *http.Request, *Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, bad := s.Auth.who(r)
		if p == nil && !bad && s.Auth.oidc != nil && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, davPrefix) {
			// A person's browser: off to sign in, and back here after.
			// (A WebDAV client gets 401 and the Basic challenge: it
			// cannot follow a sign-in page.)
			http.Redirect(w, r, "/auth/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="syncd"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="syncd", charset="UTF-8"`)
			msg := "sign in: give an API token (Authorization: Bearer ...)"
			if bad {
				msg = "that token is not valid"
			}
			s.fail(w, r, http.StatusUnauthorized, msg)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)), p)
	})
}

// audit writes an audit row; a failure is logged and refuses nothing the
// person already got, but a view whose row cannot be written is not
// served (see the handlers, which audit first).
func (s *Server) audit(r *http.Request, p *Principal, action, subject, detail, ws, doc string) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if detail != "" {
		detail += " "
	}
	detail += "from " + host
	e := workspace.AuditEntry{Actor: p.Name, Action: action, Subject: subject, Detail: detail, Workspace: ws, Document: doc}
	if err := s.Cat.AuditAt(r.Context(), e); err != nil {
		s.logger().Error("audit", "action", action, "err", err)
		return err
	}
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// fail answers with an error page (text for non-browsers is the same
// page: it is short).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	who, _ := r.Context().Value(ctxKey{}).(*Principal)
	pages().ExecuteTemplate(w, "error.html", map[string]any{"Title": http.StatusText(code), "Code": code, "Msg": msg, "Who": who})
}

// internal logs err and answers 500 without its text (it may name paths).
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.logger().Error("serve", "path", r.URL.Path, "err", err)
	s.fail(w, r, http.StatusInternalServerError, "something went wrong on the server; it is in the server's log")
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages().ExecuteTemplate(w, name, data); err != nil {
		s.logger().Error("serve: render", "page", name, "err", err)
	}
}

// attachment is a Content-Disposition that names the file safely: the
// name's UTF-8 travels in filename* (RFC 6266 and 5987), control
// characters dropped.
func attachment(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "" {
		name = "download"
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}
