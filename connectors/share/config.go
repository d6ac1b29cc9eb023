package share

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/filter"
	"github.com/syncd/syncd/connectors"
)

// Config is the YAML of a `type: share` source.
type Config struct {
	// Remote is any rclone path: "remote:dir" (named, needs RcloneConfig),
	// ":smb,host=h,user=u:Share/dir" (on the fly) or a plain local path.
	Remote string `yaml:"remote"`
	// Options are backend options (smb host, sftp known_hosts_file,
	// webdav url...), below those given in Remote.
	Options map[string]string `yaml:"options"`
	// The backend password by reference; it is obscured for rclone in
	// memory (s3: the secret access key).
	PasswordEnv     string `yaml:"password_env"`
	PasswordFile    string `yaml:"password_file"`
	PasswordCommand string `yaml:"password_command"`
	// KeyFile is an SSH private key file (sftp).
	KeyFile string `yaml:"key_file"`
	// RcloneConfig names an existing rclone.conf for named remotes.
	RcloneConfig string `yaml:"rclone_config"`

	// Options shared with `folder` sources.
	Include []string `yaml:"include"`  // globs, rclone syntax; only these are listed
	Exclude []string `yaml:"exclude"`  // globs; win over Include
	MinSize string   `yaml:"min_size"` // "10k", "1M"
	MaxSize string   `yaml:"max_size"`
	MaxAge  string   `yaml:"max_age"` // "90d", "1y", "2024-01-01"
	MinAge  string   `yaml:"min_age"`
	// Checkers is the number of directories listed in parallel (default 8).
	Checkers int `yaml:"checkers"`
	// Transfers bounds the files open at once (default 4 on a local
	// path, 8 on a remote: each file costs round trips, which overlap).
	Transfers int `yaml:"transfers"`
	// FollowLinks follows symlinks on local paths (default: skipped).
	FollowLinks bool `yaml:"follow_links"`
	// RemoteHashes: "auto" (hashes that come with the listing: s3,
	// webdav), "always" (any hash the backend computes remotely, e.g. sftp
	// md5sum), "never". Local files are never hashed at scan time.
	RemoteHashes string `yaml:"remote_hashes"`
	// CheckpointEvery is the minimum number of items between checkpoints.
	CheckpointEvery int `yaml:"checkpoint_every"`
}

// folderConfig is the YAML of a `type: folder` source.
type folderConfig struct {
	Path            string   `yaml:"path"`
	Include         []string `yaml:"include"`
	Exclude         []string `yaml:"exclude"`
	MinSize         string   `yaml:"min_size"`
	MaxSize         string   `yaml:"max_size"`
	MaxAge          string   `yaml:"max_age"`
	MinAge          string   `yaml:"min_age"`
	Checkers        int      `yaml:"checkers"`
	Transfers       int      `yaml:"transfers"`
	FollowLinks     bool     `yaml:"follow_links"`
	CheckpointEvery int      `yaml:"checkpoint_every"`
}

func (fc folderConfig) share() (Config, error) {
	if fc.Path == "" {
		return Config{}, fmt.Errorf("folder: path is %w", requiredKey("path"))
	}
	abs, err := filepath.Abs(fc.Path)
	if err != nil {
		return Config{}, fmt.Errorf("folder: path %q: %w", fc.Path, err)
	}
	return Config{Remote: abs,
		Include: fc.Include, Exclude: fc.Exclude,
		MinSize: fc.MinSize, MaxSize: fc.MaxSize, MaxAge: fc.MaxAge, MinAge: fc.MinAge,
		Checkers: fc.Checkers, Transfers: fc.Transfers, FollowLinks: fc.FollowLinks,
		CheckpointEvery: fc.CheckpointEvery,
	}, nil
}

// requiredKey is the error of a missing required key.
type requiredKey string

func (k requiredKey) Error() string { return "required" }

func decodeShare(cfg connectors.Config) (Config, error) {
	if cfg.Type == "folder" {
		var fc folderConfig
		if err := cfg.Decode(&fc); err != nil {
			return Config{}, err
		}
		return fc.share()
	}
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return Config{}, err
	}
	if c.Remote == "" {
		return Config{}, fmt.Errorf("share: remote is %w", requiredKey("remote"))
	}
	return c, nil
}

func (f Config) withDefaults() (Config, error) {
	if f.Checkers <= 0 {
		f.Checkers = 8
	}
	if f.CheckpointEvery <= 0 {
		f.CheckpointEvery = 500
	}
	switch f.RemoteHashes {
	case "":
		f.RemoteHashes = "auto"
	case "auto", "always", "never":
	default:
		return f, fmt.Errorf("remote_hashes: %q is not one of auto, always, never", f.RemoteHashes)
	}
	_, err := f.filter()
	return f, err
}

// filter builds rclone's filter. Age limits are relative to now, so it is
// built afresh for every scan.
func (f Config) filter() (*filter.Filter, error) {
	opt := filter.Opt
	opt.RulesOpt = filter.RulesOpt{}
	for _, g := range f.Exclude {
		opt.FilterRule = append(opt.FilterRule, "- "+g)
	}
	for _, g := range f.Include {
		opt.FilterRule = append(opt.FilterRule, "+ "+g)
	}
	if len(f.Include) > 0 {
		opt.FilterRule = append(opt.FilterRule, "- **")
	}
	for _, s := range []struct {
		key, val string
		dst      *fs.SizeSuffix
	}{{"min_size", f.MinSize, &opt.MinSize}, {"max_size", f.MaxSize, &opt.MaxSize}} {
		if s.val != "" {
			if err := s.dst.Set(s.val); err != nil {
				return nil, fmt.Errorf("%s: %q: %w", s.key, s.val, err)
			}
		}
	}
	for _, a := range []struct {
		key, val string
		dst      *fs.Duration
	}{{"max_age", f.MaxAge, &opt.MaxAge}, {"min_age", f.MinAge, &opt.MinAge}} {
		if a.val != "" {
			d, err := fs.ParseDuration(a.val)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", a.key, a.val, err)
			}
			*a.dst = fs.Duration(d)
		}
	}
	fi, err := filter.NewFilter(&opt)
	if err != nil {
		return nil, fmt.Errorf("filters: %w", err)
	}
	return fi, nil
}

// quoteValue quotes a connection-string value when it needs it.
func quoteValue(v string) string {
	if !strings.ContainsAny(v, `,:'"`) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

var connectTimeout = 30 * time.Second
