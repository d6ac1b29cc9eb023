package share

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/config/configmap"
	"github.com/rclone/rclone/fs/config/obscure"
	"github.com/rclone/rclone/fs/fspath"
	"github.com/syncd/syncd/connectors"
	"github.com/unknwon/goconfig"
)

// Backends syncd links in; see backends.go.
var supported = []string{"local", "s3", "sftp", "smb", "webdav"}

// target is a parsed remote with every option layer resolved. It is built
// without rclone's config file and without rclone's environment lookups
// (RCLONE_CONFIG_*, RCLONE_<BACKEND>_*), so nothing outside syncd's own
// config changes what a source reads.
type target struct {
	backend string
	ri      *fs.RegInfo
	name    string // config name handed to the backend
	path    string
	config  *configmap.Map
	display string // the remote with secrets removed
}

func parseTarget(c Config) (*target, error) {
	parsed, err := fspath.Parse(c.Remote)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	t := &target{name: parsed.Name, path: parsed.Path}
	var section configmap.Simple
	switch {
	case parsed.Name == "":
		t.backend, t.name = "local", "local"
	case strings.HasPrefix(parsed.Name, ":"):
		t.backend = parsed.Name[1:]
	default:
		if section, err = loadSection(c.RcloneConfig, parsed.Name); err != nil {
			return nil, err
		}
		t.backend = section["type"]
		delete(section, "type")
	}
	if !slices.Contains(supported, t.backend) {
		return nil, fmt.Errorf("remote: backend %q is not supported (supported: %s)", t.backend, strings.Join(supported, ", "))
	}
	if t.ri, err = fs.Find(t.backend); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	secrets, err := t.secrets(c)
	if err != nil {
		return nil, err
	}
	layers := []configmap.Simple{secrets, parsed.Config, c.Options, section, t.defaults(c)}
	if err := t.checkKeys("remote", parsed.Config); err != nil {
		return nil, err
	}
	if err := t.checkKeys("options", c.Options); err != nil {
		return nil, err
	}
	m := configmap.New()
	for _, l := range layers {
		if len(l) > 0 {
			m.AddGetter(l, configmap.PriorityNormal)
		}
	}
	m.AddGetter(optionDefaults(t.ri.Options), configmap.PriorityDefault)
	t.config = m
	t.display = t.sanitised(parsed)
	return t, nil
}

// loadSection reads one remote from an existing rclone.conf, without
// installing it as rclone's global config.
func loadSection(file, name string) (configmap.Simple, error) {
	if file == "" {
		return nil, fmt.Errorf("remote: %q names a configured remote: set rclone_config, or give an on-the-fly remote (\":backend,key=value:path\")", name)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rclone_config: %w", err)
	}
	if strings.HasPrefix(string(data), "# Encrypted rclone configuration File") {
		return nil, fmt.Errorf("rclone_config %s: encrypted rclone.conf is not supported", file)
	}
	cf, err := goconfig.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("rclone_config %s: %w", file, err)
	}
	sec, err := cf.GetSection(name)
	if err != nil {
		return nil, fmt.Errorf("rclone_config %s: remote %q not defined", file, name)
	}
	if sec["type"] == "" {
		return nil, fmt.Errorf("rclone_config %s: remote %q has no type", file, name)
	}
	return configmap.Simple(sec), nil
}

func (t *target) checkKeys(where string, m configmap.Simple) error {
	for k := range m {
		if t.ri.Options.Get(k) == nil {
			return fmt.Errorf("%s: unknown option %q for backend %s", where, k, t.backend)
		}
	}
	return nil
}

// secrets resolves password and key references into backend options;
// passwords are obscured where the backend expects that.
func (t *target) secrets(c Config) (configmap.Simple, error) {
	out := configmap.Simple{}
	pw, err := connectors.ResolveSecret("password", c.PasswordEnv, c.PasswordFile, c.PasswordCommand)
	switch {
	case errors.Is(err, connectors.ErrNoSecret):
	case err != nil:
		return nil, err
	default:
		key := "pass"
		if t.backend == "s3" {
			key = "secret_access_key"
		}
		opt := t.ri.Options.Get(key)
		if opt == nil {
			return nil, fmt.Errorf("password: backend %s takes no password", t.backend)
		}
		if opt.IsPassword {
			if pw, err = obscure.Obscure(pw); err != nil {
				return nil, fmt.Errorf("password: obscure: %w", err)
			}
		}
		out[key] = pw
	}
	if c.KeyFile != "" {
		if t.ri.Options.Get("key_file") == nil {
			return nil, fmt.Errorf("key_file: backend %s takes no key file", t.backend)
		}
		out["key_file"] = c.KeyFile
	}
	return out, nil
}

// defaults are syncd's choices, below anything the user sets.
func (t *target) defaults(c Config) configmap.Simple {
	switch t.backend {
	case "local":
		d := configmap.Simple{}
		if c.FollowLinks {
			d["copy_links"] = "true"
		} else {
			d["skip_links"] = "true"
		}
		return d
	}
	return nil
}

// optionDefaults reads each option's default, as rclone's own default
// layer does (but without its environment layer above it).
type optionDefaults fs.Options

func (o optionDefaults) Get(key string) (string, bool) {
	opt := fs.Options(o).Get(key)
	if opt == nil {
		return "", false
	}
	return opt.String(), true
}

// provenance are options rclone redacts as sensitive that name a place, not
// a secret: kept in Lineage.Remote.
var provenance = map[string]bool{"host": true, "user": true, "port": true, "domain": true, "url": true, "endpoint": true, "region": true}

// sanitised renders the remote without options that hold secrets.
func (t *target) sanitised(p fspath.Parsed) string {
	if p.Name == "" {
		return p.Path
	}
	keys := make([]string, 0, len(p.Config))
	for k := range p.Config {
		if o := t.ri.Options.Get(k); o != nil && (o.IsPassword || o.Sensitive && !provenance[k]) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(p.Name)
	for _, k := range keys {
		b.WriteString("," + k + "=" + quoteValue(p.Config[k]))
	}
	return b.String() + ":" + p.Path
}

// newFs builds the backend with syncd's option layers.
func (t *target) newFs(ctx context.Context) (fs.Fs, error) {
	f, err := t.ri.NewFs(ctx, t.name, t.path, t.config)
	if errors.Is(err, fs.ErrorIsFile) {
		return nil, fmt.Errorf("remote %s is a file, not a folder", t.display)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// NewFs builds the rclone remote c names, with syncd's option layers and
// its secrets resolved by reference, for uses other than a source (the
// blob store on a remote). Only Remote, Options, the password references,
// KeyFile and RcloneConfig matter. The error never holds a secret.
func NewFs(ctx context.Context, c Config) (fs.Fs, error) {
	t, err := parseTarget(c)
	if err != nil {
		return nil, err
	}
	f, err := t.newFs(ctx)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", t.display, err)
	}
	return f, nil
}
