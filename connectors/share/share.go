// Package share reads file shares through rclone used as a library: SMB,
// SFTP, WebDAV, S3 and local folders. It registers two source types:
// "share" (any rclone remote) and "folder" (a plain local directory, the
// same code through rclone's local backend).
//
// One Item per file. A scan lists metadata only; the cursor remembers a
// compact digest of (path, size, modtime) for every file, so a re-scan
// reports only new or changed files and reads no content.
package share

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/filter"
	"github.com/rclone/rclone/fs/hash"
	"github.com/syncd/syncd/connectors"
)

func init() {
	connectors.Register("share", New)
	connectors.Register("folder", New)
	connectors.RegisterCheck("share", Check)
	connectors.RegisterCheck("folder", Check)
}

// Check is the load-time check of a share or folder source's config: keys,
// values, the password reference and the key file. It neither connects
// nor runs a password command.
func Check(cfg connectors.Config) error {
	c, err := decodeShare(cfg)
	if err != nil {
		var missing requiredKey
		if errors.As(err, &missing) {
			return cfg.Errorf(string(missing), "required")
		}
		return err
	}
	if _, err := c.withDefaults(); err != nil {
		return cfg.Errorf("", "%v", err)
	}
	if cfg.Type == "folder" {
		return nil
	}
	if err := connectors.CheckSecret(cfg, "password", c.PasswordEnv, c.PasswordFile, c.PasswordCommand, false); err != nil {
		return err
	}
	if err := connectors.CheckFile(cfg, "key_file", c.KeyFile); err != nil {
		return err
	}
	return connectors.CheckFile(cfg, "rclone_config", c.RcloneConfig)
}

// Source is a share or folder source.
type Source struct {
	name, kind string
	cfg        Config
	target     *target
	sem        chan struct{} // bounds open files (transfers)
	log        *slog.Logger

	mu   sync.Mutex
	f    fs.Fs
	base context.Context // carries this source's rclone config

	owners sync.Map // uid string -> user name

	listed, unchanged, emitted, skipped, problems, gone atomic.Int64
	opened, bytesRead, changedReads                     atomic.Int64
}

var (
	_ connectors.Source  = (*Source)(nil)
	_ connectors.Metered = (*Source)(nil)
)

// New builds a share or folder source from its config. It does not
// connect: the first Scan or Open does.
func New(cfg connectors.Config) (connectors.Source, error) {
	c, err := decodeShare(cfg)
	if err != nil {
		return nil, err
	}
	s, err := NewFromConfig(cfg.Name, cfg.Type, c)
	if err != nil {
		return nil, err
	}
	s.log = cfg.Logger().With("source", cfg.Name, "remote", s.target.display)
	return s, nil
}

// NewFromConfig builds a source from an already decoded Config (for
// tools and benchmarks). kind is "share" or "folder".
func NewFromConfig(name, kind string, c Config) (*Source, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(c)
	if err != nil {
		return nil, err
	}
	if c.Transfers <= 0 {
		c.Transfers = defaultTransfers(t.backend)
	}
	return &Source{
		name: name, kind: kind, cfg: c, target: t,
		sem: make(chan struct{}, c.Transfers),
		log: slog.With("source", name, "remote", t.display),
	}, nil
}

// defaultTransfers is how many files are open at once unless the config
// says: 4 on a local path (the disk, not round trips, decides), 8 on a
// remote, where a file's open, reads, close and check are round trips
// that overlap (measured on SFTP and SMB with 20 ms round trips: 8 took
// half the time of 4; docs/benchmarks.md).
func defaultTransfers(backend string) int {
	if backend == "local" {
		return 4
	}
	return 8
}

// Transfers implements connectors.Concurrent.
func (s *Source) Transfers() int { return s.cfg.Transfers }

// Name implements connectors.Source.
func (s *Source) Name() string { return s.name }

// Kind implements connectors.Source.
func (s *Source) Kind() string { return s.kind }

// Remote is the remote with secrets removed, as put in Lineage.Remote.
func (s *Source) Remote() string { return s.target.display }

// fs returns the backend, connecting on first use, and ctx carrying this
// source's rclone settings.
func (s *Source) fs(ctx context.Context) (fs.Fs, context.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		base, ci := fs.AddConfig(context.Background())
		ci.LogLevel = fs.LogLevelNotice // not RCLONE_LOG_LEVEL
		ci.Checkers = s.cfg.Checkers
		ci.Transfers = s.cfg.Transfers
		ci.LowLevelRetries = 2
		ci.ConnectTimeout = fs.Duration(connectTimeout)
		ci.UseServerModTime = s.target.backend == "s3" // modtime without a HEAD per object
		f, err := s.target.newFs(fs.CopyConfig(ctx, base))
		if err != nil {
			return nil, ctx, s.wrap("connect", "", err)
		}
		ci.UseListR = f.Features().ListR != nil
		s.f, s.base = f, base
	}
	return s.f, fs.CopyConfig(ctx, s.base), nil
}

// scanContext adds rclone's filter (rebuilt per scan: ages are relative).
func (s *Source) scanContext(ctx context.Context) (context.Context, error) {
	fi, err := s.cfg.filter()
	if err != nil {
		return ctx, fmt.Errorf("share %s: %w", s.name, err)
	}
	return filter.ReplaceConfig(ctx, fi), nil
}

// hashTypes are the hashes asked of the backend for emitted items.
func (s *Source) hashTypes(f fs.Fs) []hash.Type {
	if s.target.backend == "local" || s.cfg.RemoteHashes == "never" {
		return nil // local hashing reads the whole file
	}
	if s.cfg.RemoteHashes == "auto" && s.target.backend != "s3" && s.target.backend != "webdav" {
		return nil
	}
	var out []hash.Type
	for _, t := range []hash.Type{hash.SHA256, hash.SHA1, hash.MD5} {
		if f.Hashes().Contains(t) {
			out = append(out, t)
		}
	}
	return out
}

// Counters implements connectors.Metered.
func (s *Source) Counters() connectors.SourceCounters {
	return connectors.SourceCounters{
		Listed:        s.listed.Load(),
		Unchanged:     s.unchanged.Load(),
		Emitted:       s.emitted.Load(),
		Skipped:       s.skipped.Load(),
		Problems:      s.problems.Load(),
		Gone:          s.gone.Load(),
		Opened:        s.opened.Load(),
		ReceivedBytes: s.bytesRead.Load(),
		ChangedReads:  s.changedReads.Load(),
	}
}

// Close implements connectors.Source.
func (s *Source) Close() error {
	s.mu.Lock()
	f := s.f
	s.f = nil
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	if sd := f.Features().Shutdown; sd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sd(fs.CopyConfig(ctx, s.base)); err != nil {
			return fmt.Errorf("share %s: close: %w", s.name, err)
		}
	}
	return nil
}
