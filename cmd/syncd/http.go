package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/serve"
	"github.com/syncd/syncd/workspace"
)

// api is the daemon's HTTP status server.
type api struct {
	sched   *scheduler.Scheduler
	cat     *workspace.Catalog
	metrics *metrics
	// token, when set, is required as "Authorization: Bearer <token>" on
	// everything but /healthz and /readyz.
	token string
	// listen is the address the server listens on: requests naming
	// another host are refused (see guard).
	listen  string
	ready   func() error
	reloadE func() string // last reload error, "" if the last reload worked
	log     *slog.Logger
}

func (a *api) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", a.auth(promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError)})))
	mux.Handle("GET /api/v1/jobs", a.auth(http.HandlerFunc(a.jobs)))
	mux.Handle("GET /api/v1/runs", a.auth(http.HandlerFunc(a.runs)))
	mux.Handle("GET /api/v1/runs/{id}", a.auth(http.HandlerFunc(a.run)))
	mux.Handle("POST /api/v1/jobs/{name}/run", a.auth(http.HandlerFunc(a.trigger)))
	mux.Handle("GET /api/v1/cluster", a.auth(http.HandlerFunc(a.cluster)))
	return a.guard(mux)
}

// guard refuses what a web page could make a browser send:
//
//   - without a token, a Host that is neither a loopback name nor the
//     listen address (DNS rebinding: evil.example resolving to 127.0.0.1
//     would otherwise let the page read the API). With a token any Host
//     is accepted (a rebound page does not have the token, and scrapers
//     may name the server as they like);
//   - without a token, a state-changing request that a browser marks as
//     cross-site (Sec-Fetch-Site) or whose Origin is not this server (a
//     form POST from another site). Requests with neither header (curl,
//     the CLI, scripts) are not from a browser and pass.
func (a *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.token == "" && !serve.HostServed(r.Host, a.listen) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"error": "this server does not answer for that host name"})
			return
		}
		if a.token == "" && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions && !sameOrigin(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a request is not a cross-site browser
// request: Sec-Fetch-Site, when sent, is same-origin or none (typed by the
// user); Origin, when sent, is this server's own origin.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "http" && u.Path == "" && strings.EqualFold(u.Host, r.Host)
}

// auth requires the bearer token when one is set. Both sides are hashed
// first so the comparison takes the same time whatever the length.
func (a *api) auth(next http.Handler) http.Handler {
	if a.token == "" {
		return next
	}
	want := sha256.Sum256([]byte(a.token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="syncd"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	if err := a.ready(); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

func (a *api) jobs(w http.ResponseWriter, _ *http.Request) {
	type configInfo struct {
		scheduler.Info
		LastReloadError string `json:"last_reload_error,omitempty"`
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"config": configInfo{a.sched.Info(), a.reloadE()},
		"jobs":   a.sched.Jobs(),
	})
}

func (a *api) runs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	probs := 20
	if v := q.Get("problems"); v != "" {
		probs, _ = strconv.Atoi(v)
	}
	out, err := listRuns(r.Context(), a.cat, q.Get("job"), limit, probs)
	if err != nil {
		a.log.Error("api: runs", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read runs"})
		return
	}
	retries, err := pendingRetries(r.Context(), a.cat, probs)
	if err != nil {
		a.log.Error("api: retries", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read runs"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out, "retries": retries})
}

// clusterView is what every process sharing the store holds: the locks
// (jobs, maintenance, history) and the units of the runs under way.
type clusterView struct {
	Locks []clusterLock    `json:"locks"`
	Units []workspace.Unit `json:"units"`
}

type clusterLock struct {
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

func readCluster(ctx context.Context, cat *workspace.Catalog) (clusterView, error) {
	v := clusterView{Locks: []clusterLock{}, Units: []workspace.Unit{}}
	ls, err := cat.Locks(ctx, "")
	if err != nil {
		return v, err
	}
	for _, l := range ls {
		v.Locks = append(v.Locks, clusterLock{Name: l.Name, Holder: l.Holder, Expires: l.Expires})
	}
	us, err := cat.OpenUnits(ctx)
	if err != nil {
		return v, err
	}
	if us != nil {
		v.Units = us
	}
	return v, nil
}

// cluster shows what every process sharing the store holds and does.
func (a *api) cluster(w http.ResponseWriter, r *http.Request) {
	v, err := readCluster(r.Context(), a.cat)
	if err != nil {
		a.log.Error("api: cluster", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the cluster's state"})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) run(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "run id must be a number"})
		return
	}
	rr, err := getRun(r.Context(), a.cat, id, 1000)
	switch {
	case errors.Is(err, workspace.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		a.log.Error("api: run", "run", id, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the run"})
	default:
		writeJSON(w, http.StatusOK, rr)
	}
}

func (a *api) trigger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := a.sched.Trigger(name)
	switch {
	case err == nil:
		a.log.Info("run requested over the API", "job", name, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusAccepted, map[string]string{"job": name, "status": "started"})
	case errors.Is(err, scheduler.ErrUnknownJob):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, scheduler.ErrRunning):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// isLoopback reports whether a listen address only accepts local
// connections. Empty hosts and wildcard addresses are not loopback; host
// names other than localhost count as not loopback.
func isLoopback(addr string) bool { return serve.IsLoopback(addr) }

// newHTTPServer wraps the handler with sane timeouts.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
}
