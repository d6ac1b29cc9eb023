package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	rclonefs "github.com/rclone/rclone/fs"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/share"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/dedupe/remote"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/workspace"
)

// common flags shared by commands that read a config.
type common struct {
	config    string // as given; load sets it to the file found
	logFormat string
	logLevel  string
}

func (c *common) bind(flags *pflag.FlagSet) {
	flags.StringVar(&c.config, "config", "", "config `file` (default: $"+configEnv+", else ./syncd.yaml, else "+systemConfig+")")
	flags.StringVar(&c.logFormat, "log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	flags.StringVar(&c.logLevel, "log-level", "", "log level: debug, info, warn, error (default from config, else info)")
}

// configEnv names the variable that gives the config file when --config
// does not.
const configEnv = "SYNCD_CONFIG"

// systemConfig is the last place a config is looked for (a variable so
// that tests can move it).
var systemConfig = defaultSystemConfig()

func defaultSystemConfig() string {
	if runtime.GOOS == "windows" {
		if pd := os.Getenv("ProgramData"); pd != "" {
			return filepath.Join(pd, "syncd", "syncd.yaml")
		}
	}
	return "/etc/syncd/syncd.yaml"
}

// findConfig returns the config file to use: flag (--config), else
// $SYNCD_CONFIG, else ./syncd.yaml, else systemConfig, the first that is
// given or exists. None is a usage error naming the places looked.
func findConfig(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv(configEnv); env != "" {
		return env, nil
	}
	for _, p := range []string{"syncd.yaml", systemConfig} {
		// A file that is there but cannot be read is still the one
		// meant: loading it says why.
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", usagef("no config file: give --config FILE or set $%s, or create ./syncd.yaml or %s", configEnv, systemConfig)
}

// loadForSources loads the config of a command that opens sources: their
// secret references must be readable too.
func (c *common) loadForSources() (*engine.Config, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckSources(); err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

func (c *common) load() (*engine.Config, error) {
	path, err := findConfig(c.config)
	if err != nil {
		return nil, err
	}
	c.config = path
	cfg, err := engine.LoadConfig(c.config)
	if err == nil {
		err = cfg.CheckTypes()
	}
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// newLogger builds the slog logger: text on a terminal, JSON otherwise.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		opts.ReplaceAttr = termAttr // names in text logs reach a terminal
		h = slog.NewTextHandler(w, opts)
	}
	// rclone logs through its own default handler; send its lines through
	// ours so they share format, destination and level.
	rclonefs.SetLogger(h.WithAttrs([]slog.Attr{slog.String("component", "rclone")}))
	return slog.New(h)
}

func (c *common) logger(cfg *engine.Config, w io.Writer) *slog.Logger {
	level := c.logLevel
	if level == "" && cfg != nil {
		level = cfg.Log.Level
	}
	format := c.logFormat
	if format == "auto" && cfg != nil && cfg.Log.Format != "" {
		format = cfg.Log.Format
	}
	return newLogger(w, format, level)
}

// store is an open workspace store: catalog plus blobs.
type store struct {
	dir    string
	cat    *workspace.Catalog
	blobs  blobStore
	keyCap int // history.key_cap of the config (0: default)
}

// blobStore is what the commands need of a blob store: the disk store
// under store.path, or one on an rclone remote (store.blobs).
type blobStore interface {
	dedupe.BlobStore
	// Quarantine moves a damaged blob aside and says where it went.
	Quarantine(ctx context.Context, id dedupe.ID) (string, error)
	// CleanTemp removes temporary files older than minAge.
	CleanTemp(ctx context.Context, minAge time.Duration) (int, error)
	Close() error
}

// diskBlobs is the disk store as a blobStore (it stays a dedupe.Flusher).
type diskBlobs struct{ *dedupe.Disk }

func (d diskBlobs) CleanTemp(_ context.Context, minAge time.Duration) (int, error) {
	return d.Disk.CleanTemp(minAge)
}

// remoteBlobs is the store on a remote: uploads are durable when Put
// returns, so it has nothing to close.
type remoteBlobs struct{ *remote.Store }

func (remoteBlobs) Close() error { return nil }

func catalogPath(dir string) string { return filepath.Join(dir, "catalog.db") }

// openCatalog opens the configured catalog: catalog.db under store.path,
// or the PostgreSQL database of store.catalog.postgres (created and
// migrated on first open; opt.ReadOnly does not apply there).
func openCatalog(ctx context.Context, sc engine.StoreConfig, opt workspace.Options) (*workspace.Catalog, error) {
	if !onPostgres(sc) {
		cat, err := workspace.Open(ctx, catalogPath(sc.Path), opt)
		if err != nil {
			return nil, storeErr(err)
		}
		return cat, nil
	}
	pc := sc.Catalog.Postgres
	dsn, err := connectors.ResolveSecret("dsn", pc.DSNEnv, pc.DSNFile, pc.DSNCommand)
	if err != nil {
		return nil, fmt.Errorf("store.catalog.postgres: %w", err)
	}
	cat, err := workspace.OpenPostgres(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("store.catalog.postgres: %w", err)
	}
	return cat, nil
}

// onPostgres: the store's catalog is a PostgreSQL database.
func onPostgres(sc engine.StoreConfig) bool { return sc.Catalog != nil && sc.Catalog.Postgres != nil }

// catalogExists: the store has a catalog to read. A PostgreSQL catalog
// always has one (an empty database is an empty catalog).
func catalogExists(sc engine.StoreConfig) bool {
	return onPostgres(sc) || exists(catalogPath(sc.Path))
}

func openStore(ctx context.Context, sc engine.StoreConfig) (*store, error) {
	dir := sc.Path
	cat, err := openCatalog(ctx, sc, workspace.Options{})
	if err != nil {
		return nil, err
	}
	blobs, err := openBlobs(ctx, sc)
	if err != nil {
		cat.Close()
		return nil, err
	}
	return &store{dir: dir, cat: cat, blobs: blobs}, nil
}

// openBlobs opens the configured blob store.
func openBlobs(ctx context.Context, sc engine.StoreConfig) (blobStore, error) {
	if sc.Blobs == nil {
		d, err := dedupe.OpenDisk(sc.Path)
		if err != nil {
			return nil, storeErr(err)
		}
		return diskBlobs{d}, nil
	}
	b := sc.Blobs
	// The root is a folder: said with a trailing slash, backends do not
	// probe whether it is a file (rclone's s3 takes an unreachable
	// endpoint for a file at the root).
	root := b.Remote
	if !strings.HasSuffix(root, "/") && !strings.HasSuffix(root, ":") {
		root += "/"
	}
	// A blob store that is down must fail each write within seconds, not
	// retry it for many minutes (rclone's default 10 low-level retries of
	// its own, each a 10-attempt SDK retry on S3): the item goes on the
	// retry list and the run ends with problems (see blobRetries).
	base, ci := rclonefs.AddConfig(ctx)
	ci.LowLevelRetries = blobRetries
	ci.ConnectTimeout = rclonefs.Duration(blobConnectTimeout)
	f, err := share.NewFs(base, share.Config{Remote: root, Options: b.Options,
		PasswordEnv: b.PasswordEnv, PasswordFile: b.PasswordFile, PasswordCommand: b.PasswordCommand,
		KeyFile: b.KeyFile, RcloneConfig: b.RcloneConfig})
	if err != nil {
		return nil, fmt.Errorf("store.blobs: %w", err)
	}
	// Puts spool beside the catalog, where a disk store keeps its tmp/.
	r, err := remote.New(f, filepath.Join(sc.Path, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("store.blobs: %w", err)
	}
	return remoteBlobs{r}, nil
}

// blobRetries and blobConnectTimeout bound each call to a remote blob
// store: rclone's pacer tries a call this many times, and on S3 each try
// is an SDK call with as many attempts (9 in all, with back-off).
const (
	blobRetries        = 3
	blobConnectTimeout = 15 * time.Second
)

func (s *store) Close() error {
	err := s.blobs.Close()
	if cerr := s.cat.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *store) engine(log *slog.Logger) *engine.Engine {
	return &engine.Engine{Catalog: s.cat, Blobs: s.blobs, Log: log, Env: &connectors.Env{Log: log}, KeyCap: s.keyCap}
}

// jobsToRun picks the named job, or all jobs.
func jobsToRun(cfg *engine.Config, name string) ([]*engine.Job, error) {
	if name == "" {
		out := make([]*engine.Job, len(cfg.Jobs))
		for i := range cfg.Jobs {
			out[i] = &cfg.Jobs[i]
		}
		return out, nil
	}
	j, err := cfg.Job(name)
	if err != nil {
		return nil, usageError{err}
	}
	return []*engine.Job{j}, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func humanBytes(n int64) string { return report.HumanBytes(n) }

// openExisting loads the config and opens its store, which must exist.
func (c *common) openExisting(ctx context.Context) (*engine.Config, *store, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	if !catalogExists(cfg.Store) {
		return nil, nil, usagef("no store at %s: run 'syncd sync' first", cfg.Store.Path)
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	st.keyCap = cfg.History.KeyCap
	st.cat.SetIndexCache(cfg.Store.CacheMB)
	return cfg, st, nil
}
