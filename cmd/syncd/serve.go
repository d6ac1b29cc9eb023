package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/serve"
)

func init() {
	register(command{use: "serve", summary: "serve the workspace's web interface: browse, find the current version, download with an audit trail", flags: cmdServe, complete: completeCommon})
}

// defaultServeListen is where `syncd serve` listens without serve.listen
// or --listen.
const defaultServeListen = "127.0.0.1:8380"

func cmdServe(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	listen := fs.String("listen", "", "`address` to serve on (host:port; default serve.listen, else "+defaultServeListen+")")
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		cfg, st, err := c.openExisting(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		log := c.logger(cfg, stderr)
		addr := cfg.Serve.Listen
		if *listen != "" {
			addr = *listen
		}
		if addr == "" {
			addr = defaultServeListen
		}
		web, err := startWeb(cfg.Serve, st, addr, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "serving the workspace on http://%s/ (Ctrl-C stops)\n", web.ln.Addr())
		<-ctx.Done()
		return web.stop()
	}
}

// web is a running workspace server.
type web struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// startWeb serves the store's workspace on addr until stop.
func startWeb(sc engine.ServeConfig, st *store, addr string, log *slog.Logger) (*web, error) {
	h, err := webHandler(sc, st, addr, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	w := &web{ln: ln, log: log, srv: &http.Server{
		Handler: h,
		// Downloads and checked uploads may be large and slow: no
		// whole-request deadlines, only the headers'.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	go func() {
		if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("workspace server stopped", "err", err)
		}
	}()
	log.Info("workspace server started", "listen", ln.Addr().String(), "tokens", len(sc.Tokens), "local", sc.Local)
	return w, nil
}

func webHandler(sc engine.ServeConfig, st *store, addr string, log *slog.Logger) (http.Handler, error) {
	var tokens []serve.Token
	for i, t := range sc.Tokens {
		secret, err := connectors.ResolveSecret(fmt.Sprintf("serve.tokens[%d] (%s) token", i, t.Name), t.TokenEnv, t.TokenFile, t.TokenCommand)
		if err != nil {
			return nil, usageError{err}
		}
		if len(secret) < 16 {
			return nil, usagef("serve.tokens[%d] (%s): the token is shorter than 16 characters", i, t.Name)
		}
		roles := map[string]serve.Role{}
		for ws, r := range t.Roles {
			roles[ws], _ = serve.ParseRole(r)
		}
		tokens = append(tokens, serve.Token{Secret: secret, Who: serve.NewPrincipal(t.Name, roles)})
	}
	local, _ := serve.ParseRole(sc.Local)
	loop := serve.IsLoopback(addr)
	if local != serve.None && !loop {
		log.Warn("serve.local applies only on a loopback address: requests without a token are refused", "listen", addr)
	}
	auth := serve.NewAuth(tokens, local, loop)
	if o := sc.OIDC; o != nil {
		so, err := oidcConfig(o)
		if err != nil {
			return nil, usageError{err}
		}
		auth.WithOIDC(so)
	}
	s := &serve.Server{
		Cat: st.cat, Blobs: st.blobs, Auth: auth, Log: log, Listen: addr,
		MaxUpload: int64(sc.MaxUploadMB) << 20,
		Correct: func(ctx context.Context, kind string, blobs []dedupe.ID, actor, note string) error {
			ids := make([]string, len(blobs))
			for i, b := range blobs {
				ids[i] = b.String()
			}
			_, err := applyPin(ctx, st, kind, ids, actor, note)
			return err
		},
	}
	return s.Handler(), nil
}

// oidcConfig resolves serve.oidc's secrets and roles.
func oidcConfig(o *engine.ServeOIDC) (*serve.OIDC, error) {
	secret, err := connectors.ResolveSecret("serve.oidc.client_secret", o.ClientSecretEnv, o.ClientSecretFile, o.ClientSecretCommand)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if k, err := connectors.ResolveSecret("serve.oidc.session_key", o.SessionKeyEnv, o.SessionKeyFile, o.SessionKeyCommand); err == nil {
		if len(k) < 32 {
			return nil, errors.New("serve.oidc.session_key: shorter than 32 characters")
		}
		key = []byte(k)
	} else if !errors.Is(err, connectors.ErrNoSecret) {
		return nil, err
	} else {
		rand.Read(key)
	}
	grants := func(gs []engine.ServeRoleGrant) map[string]map[string]serve.Role {
		out := map[string]map[string]serve.Role{}
		for _, g := range gs {
			if out[g.Name] == nil {
				out[g.Name] = map[string]serve.Role{}
			}
			for ws, r := range g.Roles {
				out[g.Name][ws], _ = serve.ParseRole(r)
			}
		}
		return out
	}
	return &serve.OIDC{
		Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, RedirectURL: o.RedirectURL,
		Scopes: o.Scopes, NameClaim: o.NameClaim, GroupsClaim: o.GroupsClaim,
		Users: grants(o.Users), Groups: grants(o.Groups), SessionKey: key, Session: o.Session,
	}, nil
}

// stop ends the server, letting requests in flight finish for 10 s.
func (w *web) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		w.srv.Close()
	}
	return nil
}
