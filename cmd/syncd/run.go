package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/pflag"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/scheduler"
)

func init() {
	register(command{use: "run", summary: "run the daemon: scheduled jobs, status API, metrics", flags: cmdRun, complete: completeCommon})
}

// daemonOptions are `syncd run`'s flags.
type daemonOptions struct {
	common
	listen      string
	tokenFile   string
	tokenEnv    string
	stopTimeout time.Duration
	maxJobs     int
}

func cmdRun(fs *pflag.FlagSet) runFunc {
	var o daemonOptions
	o.bind(fs)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9470", "status server `address` (host:port; empty disables it)")
	fs.StringVar(&o.tokenFile, "token-file", "", "read the API bearer token from this `file`")
	fs.StringVar(&o.tokenEnv, "token-env", "SYNCD_API_TOKEN", "read the API bearer token from this environment `variable`")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", time.Minute, "on SIGTERM/SIGINT, wait this long for running jobs to commit")
	fs.IntVar(&o.maxJobs, "max-jobs", 1, "run at most this many different jobs at once")
	return func(ctx context.Context, _ []string, _, stderr io.Writer) error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		// A second SIGTERM/SIGINT while stopping gives up waiting.
		force := make(chan os.Signal, 2)
		signal.Notify(force, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(force)
		d, err := startDaemon(ctx, o, stderr)
		if err != nil {
			return err
		}
		return d.serve(ctx, hup, force)
	}
}

// daemon is a running `syncd run`.
type daemon struct {
	file        string
	storePath   string
	blobs       *engine.BlobsConfig   // store.blobs at start
	catalog     *engine.CatalogConfig // store.catalog at start
	st          *store
	sched       *scheduler.Scheduler
	metrics     *metrics
	log         *slog.Logger
	srv         *http.Server
	ln          net.Listener
	web         *web // the workspace's web interface (serve.listen), or nil
	stopTimeout time.Duration

	mu       sync.Mutex
	stopping bool
	// reloadMu is held through a whole reload, so that a reader who sees
	// the new generation also sees its outcome.
	reloadMu  sync.Mutex
	reloadErr error
}

// startDaemon loads the config, opens the store, starts the status server
// and the scheduler.
func startDaemon(ctx context.Context, o daemonOptions, stderr io.Writer) (*daemon, error) {
	cfg, err := o.loadForSources()
	if err != nil {
		return nil, err
	}
	log := o.logger(cfg, stderr)
	token, err := apiToken(o)
	if err != nil {
		return nil, usageError{err}
	}
	if o.listen != "" && !isLoopback(o.listen) && token == "" {
		return nil, usagef("refusing to serve the API on %s without a bearer token: set $%s or --token-file (only loopback addresses may go without)", o.listen, o.tokenEnv)
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	st.keyCap = cfg.History.KeyCap
	st.cat.SetIndexCache(cfg.Store.CacheMB)
	d := &daemon{file: o.config, storePath: cfg.Store.Path, blobs: cfg.Store.Blobs, catalog: cfg.Store.Catalog, st: st, metrics: newMetrics(), log: log, stopTimeout: o.stopTimeout}
	eng := st.engine(log)
	eng.Holder = engine.HolderID()
	// A schedule that fires while another daemon (on this store) runs the
	// job helps that run: several daemons share a job's sources.
	eng.Join = true
	d.metrics.reg.MustRegister(newClusterCollector(st.cat, func(err error) { log.Error("metrics: reading the cluster's state", "err", err) }))
	eng.Observer = d.metrics
	d.sched = scheduler.New(scheduler.Options{
		Runner: eng, Catalog: st.cat, Log: log, MaxConcurrent: o.maxJobs,
		OnEvent: d.metrics.event, OnStart: d.metrics.jobStarted, OnIdle: d.idle,
	})
	if err := d.sched.Load(cfg); err != nil {
		st.Close()
		return nil, usageError{err}
	}
	d.metrics.reloaded(nil)
	if o.listen != "" {
		if err := d.listen(o.listen, token); err != nil {
			st.Close()
			return nil, err
		}
	}
	if cfg.Serve.Listen != "" {
		if d.web, err = startWeb(cfg.Serve, st, cfg.Serve.Listen, log); err != nil {
			if d.srv != nil {
				d.srv.Close()
			}
			st.Close()
			return nil, err
		}
	}
	d.sched.Start()
	log.Info("daemon started", "config", o.config, "store", cfg.Store.Path, "listen", d.addr(), "jobs", len(cfg.Jobs), "pid", os.Getpid())
	return d, nil
}

func apiToken(o daemonOptions) (string, error) {
	if o.tokenFile != "" {
		return connectors.ResolveSecret("api token", "", o.tokenFile, "")
	}
	if o.tokenEnv != "" {
		if v := os.Getenv(o.tokenEnv); v != "" {
			return v, nil
		}
	}
	return "", nil
}

func (d *daemon) listen(addr, token string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status server: %w", err)
	}
	a := &api{sched: d.sched, cat: d.st.cat, metrics: d.metrics, token: token, listen: ln.Addr().String(), ready: d.ready, reloadE: d.lastReloadError, log: d.log}
	d.ln, d.srv = ln, newHTTPServer(a.handler())
	go func() {
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("status server stopped", "err", err)
		}
	}()
	return nil
}

// addr is the status server's address ("" when disabled).
func (d *daemon) addr() string {
	if d.ln == nil {
		return ""
	}
	return d.ln.Addr().String()
}

func (d *daemon) ready() error {
	d.mu.Lock()
	stopping := d.stopping
	d.mu.Unlock()
	if stopping {
		return errors.New("stopping")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.st.cat.DB().PingContext(ctx)
}

func (d *daemon) lastReloadError() string {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if d.reloadErr == nil {
		return ""
	}
	return d.reloadErr.Error()
}

// reload re-reads the config file. An invalid config is rejected and the
// running one stays.
func (d *daemon) reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	cfg, err := engine.LoadConfig(d.file)
	if err == nil {
		err = cfg.CheckTypes()
	}
	if err == nil {
		err = cfg.CheckSources()
	}
	if err == nil && cfg.Store.Path != d.storePath {
		err = fmt.Errorf("store.path changed from %s to %s: restart syncd to use another store", d.storePath, cfg.Store.Path)
	}
	if err == nil && !reflect.DeepEqual(cfg.Store.Blobs, d.blobs) {
		err = errors.New("store.blobs changed: restart syncd to use another blob store")
	}
	if err == nil && !reflect.DeepEqual(cfg.Store.Catalog, d.catalog) {
		err = errors.New("store.catalog changed: restart syncd to use another catalog")
	}
	if err == nil && cfg.History.KeyCap != d.st.keyCap {
		err = fmt.Errorf("history.key_cap changed from %d to %d: restart syncd to apply it (the next run then rebuilds every document's history)", d.st.keyCap, cfg.History.KeyCap)
	}
	if err == nil {
		err = d.sched.Load(cfg)
	}
	d.reloadErr = err
	d.metrics.reloaded(err)
	if err != nil {
		d.log.Error("config reload rejected; the running config stays", "config", d.file, "err", err)
		return err
	}
	d.log.Info("config reloaded", "config", d.file, "jobs", len(cfg.Jobs), "generation", d.sched.Info().Generation)
	return nil
}

// serve tells systemd the daemon is ready, handles SIGHUP until ctx ends,
// then stops gracefully.
func (d *daemon) serve(ctx context.Context, hup, force <-chan os.Signal) error {
	sdNotify(d.log, sd.SdNotifyReady+"\nSTATUS="+d.status())
	stopWatchdog := startWatchdog(d.log, func() { d.sched.Info() })
	defer stopWatchdog()
	for {
		select {
		case <-hup:
			sdNotify(d.log, sdReloading())
			_ = d.reload()
			sdNotify(d.log, sd.SdNotifyReady+"\nSTATUS="+d.status())
		case <-ctx.Done():
			return d.shutdown(force)
		}
	}
}

// status is the one line `systemctl status` shows.
func (d *daemon) status() string {
	s := fmt.Sprintf("%d jobs", len(d.sched.Jobs()))
	if a := d.addr(); a != "" {
		s += ", status API on " + a
	}
	if err := d.lastReloadError(); err != "" {
		s += "; last reload rejected (see the log)"
	}
	return s
}

// shutdown stops accepting work, lets running jobs commit their batch and
// returns within stopTimeout (or at once on a second signal).
func (d *daemon) shutdown(force <-chan os.Signal) error {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	sdNotify(d.log, sd.SdNotifyStopping)
	d.log.Info("stopping: running jobs commit their current batch", "timeout", d.stopTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), d.stopTimeout)
	defer cancel()
	go func() {
		// force hears every SIGTERM/SIGINT since start, including the one
		// that began this stop: the second one gives up waiting.
		for n := 0; ; {
			select {
			case <-force:
				if n++; n >= 2 {
					d.log.Warn("second signal: not waiting any longer")
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	err := d.sched.Stop(ctx)
	if d.web != nil {
		d.web.stop()
	}
	if d.srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.srv.Shutdown(sctx)
		scancel()
	}
	if err != nil {
		// Runs still going hold no open transaction we could wait for
		// safely; the next start resumes from the last checkpoint.
		d.log.Error("stopped without waiting for every job", "err", err)
		return err
	}
	d.st.Close()
	d.log.Info("stopped")
	return nil
}

// idle runs when the last job has finished: nothing of a run is kept
// between runs (issue 17), so the heap it grew is handed back to the OS
// now rather than by the runtime's slow background scavenger, and the
// daemon's size between runs is logged.
func (d *daemon) idle() {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	d.log.Info("daemon idle: memory returned to the OS", "heap_mb", ms.HeapInuse>>20, "held_mb", (ms.Sys-ms.HeapReleased)>>20)
}
