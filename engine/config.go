// Package engine runs syncd jobs: it scans each source from its cursor,
// skips what the store already has, streams new content into the blob store
// once, records sightings with provenance, and rebuilds document history.
package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/robfig/cron/v3"
	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/internal/yamlx"
)

// Config is syncd's one configuration file.
type Config struct {
	File     string        `yaml:"-"`
	Store    StoreConfig   `yaml:"store"`
	Timezone string        `yaml:"timezone"`
	Log      LogConfig     `yaml:"log"`
	History  HistoryConfig `yaml:"history"`
	Serve    ServeConfig   `yaml:"serve"`
	Jobs     []Job         `yaml:"jobs"`
}

// ServeConfig sets up `syncd serve`, the workspace's web interface.
type ServeConfig struct {
	Listen string `yaml:"listen"` // host:port (default 127.0.0.1:8380)
	// Local is the role a request without credentials gets while the
	// server listens on a loopback address only (none, viewer, curator,
	// admin; default none). `syncd demo` serves its sample this way.
	Local string `yaml:"local"`
	// Tokens are API tokens for service accounts: "Authorization: Bearer
	// <token>", each with its roles.
	Tokens []ServeToken `yaml:"tokens"`
	// MaxUploadMB bounds a file dropped on "is this the current version?"
	// (default 1024; it is hashed as it arrives, never stored).
	MaxUploadMB int `yaml:"max_upload_mb"`
	// OIDC signs people in with OpenID Connect.
	OIDC *ServeOIDC `yaml:"oidc"`
}

// ServeOIDC is sign-in with OpenID Connect (Microsoft Entra ID: issuer
// https://login.microsoftonline.com/<tenant>/v2.0, the app's client id,
// a client secret by reference, the groups claim for roles).
type ServeOIDC struct {
	Issuer              string   `yaml:"issuer"`
	ClientID            string   `yaml:"client_id"`
	ClientSecretEnv     string   `yaml:"client_secret_env"`
	ClientSecretFile    string   `yaml:"client_secret_file"`
	ClientSecretCommand string   `yaml:"client_secret_command"`
	RedirectURL         string   `yaml:"redirect_url"` // https://syncd.example.gov.uk/auth/callback
	Scopes              []string `yaml:"scopes"`       // default openid, profile, email
	NameClaim           string   `yaml:"name_claim"`   // default preferred_username
	GroupsClaim         string   `yaml:"groups_claim"` // default groups
	// SessionKey* signs the session cookies (32+ bytes); without one a
	// key is made at start and a restart signs everyone out.
	SessionKeyEnv     string        `yaml:"session_key_env"`
	SessionKeyFile    string        `yaml:"session_key_file"`
	SessionKeyCommand string        `yaml:"session_key_command"`
	Session           time.Duration `yaml:"session"` // default 8h
	// Users and Groups give roles per workspace ("*": every one).
	Users  []ServeRoleGrant `yaml:"users"`
	Groups []ServeRoleGrant `yaml:"groups"`
}

// ServeRoleGrant gives a person (by name claim) or a group (by the
// groups claim's value) roles.
type ServeRoleGrant struct {
	Name  string            `yaml:"name"`
	Roles map[string]string `yaml:"roles"`
}

// ServeToken is one API token, by reference, and what it may do.
type ServeToken struct {
	Name         string `yaml:"name"` // who, in the audit log
	TokenEnv     string `yaml:"token_env"`
	TokenFile    string `yaml:"token_file"`
	TokenCommand string `yaml:"token_command"`
	// Roles maps a workspace ("*": every workspace) to viewer, curator
	// or admin.
	Roles map[string]string `yaml:"roles"`
}

// ServeRoles are the roles of `syncd serve`, weakest first.
var ServeRoles = []string{"viewer", "curator", "admin"}

func validRole(r string) bool {
	for _, v := range ServeRoles {
		if r == v {
			return true
		}
	}
	return false
}

// StoreConfig says where the workspace store lives.
type StoreConfig struct {
	Path string `yaml:"path"` // catalog.db and blobs/ live here
	// CacheMB bounds the page cache of the history indexer, the one
	// cache that grows with work (default workspace.DefaultIndexCacheMB;
	// SQLite's other connections keep its 2 MB default).
	CacheMB int `yaml:"cache_mb"`
	// Blobs, when set, keeps the blobs on an rclone remote instead of
	// under Path (the catalog stays at Path).
	Blobs *BlobsConfig `yaml:"blobs"`
	// Catalog, when set, keeps the catalog in PostgreSQL instead of
	// catalog.db under Path.
	Catalog *CatalogConfig `yaml:"catalog"`
}

// CatalogConfig is a catalog on a database server.
type CatalogConfig struct {
	Postgres *PostgresConfig `yaml:"postgres"`
}

// PostgresConfig names the PostgreSQL database, by reference: the DSN
// ("postgres://user:password@host/db" or "host=... dbname=...") carries
// the password, so it comes from an environment variable, a file or a
// command, never the config.
type PostgresConfig struct {
	DSNEnv     string `yaml:"dsn_env"`
	DSNFile    string `yaml:"dsn_file"`
	DSNCommand string `yaml:"dsn_command"`
}

// BlobsConfig is a blob store on an rclone remote; the keys mean what they
// mean for a share source (secrets by reference).
type BlobsConfig struct {
	Remote          string            `yaml:"remote"` // ":s3:bucket/prefix", "name:dir" (with rclone_config)...
	Options         map[string]string `yaml:"options"`
	PasswordEnv     string            `yaml:"password_env"` // s3: the secret access key
	PasswordFile    string            `yaml:"password_file"`
	PasswordCommand string            `yaml:"password_command"`
	KeyFile         string            `yaml:"key_file"` // sftp
	RcloneConfig    string            `yaml:"rclone_config"`
}

// HistoryConfig tunes the history rebuild.
type HistoryConfig struct {
	// KeyCap: a piece of evidence (a name family, a mail thread, a text
	// band) shared by more than this many blobs, or a blob carrying more
	// than this many, is no evidence (default history.DefaultKeyCap).
	KeyCap int `yaml:"key_cap"`
}

// LogConfig sets logging.
type LogConfig struct {
	Format string `yaml:"format"` // auto | text | json
	Level  string `yaml:"level"`  // debug | info | warn | error
}

// Job is a set of sources synced together into workspaces.
type Job struct {
	Name        string         `yaml:"name"`
	Workspace   string         `yaml:"workspace"`
	Schedule    string         `yaml:"schedule"`
	Jitter      time.Duration  `yaml:"jitter"`
	Window      string         `yaml:"window"` // "22:00-06:00": runs only start inside it
	Concurrency int            `yaml:"concurrency"`
	Parallel    int            `yaml:"parallel"` // sources scanned at once (default 4)
	MaxSize     int64          `yaml:"max_size"` // items larger than this are skipped ("size-limit")
	Routes      []Route        `yaml:"routes"`
	Sources     []SourceConfig `yaml:"sources"`
}

// SourceConfig is one source entry. Connector options stay in the node and
// are decoded by the connector itself.
type SourceConfig struct {
	Name      string `yaml:"name"`
	Type      string `yaml:"type"`
	Workspace string `yaml:"workspace"`
	Enabled   *bool  `yaml:"enabled"`
	// Partition splits the source's work into units per part (mailbox,
	// top-level folder, library), each with a cursor of its own, so that
	// several workers share one large source (connectors.Partitioner).
	Partition bool `yaml:"partition"`
	node      *yaml.Node
	line      int
	key       string // "jobs[0].sources[1]", set by validate
}

// UnmarshalYAML keeps the raw node for the connector.
func (s *SourceConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain struct {
		Name      string `yaml:"name"`
		Type      string `yaml:"type"`
		Workspace string `yaml:"workspace"`
		Enabled   *bool  `yaml:"enabled"`
		Partition bool   `yaml:"partition"`
	}
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = SourceConfig{Name: p.Name, Type: p.Type, Workspace: p.Workspace, Enabled: p.Enabled, Partition: p.Partition, node: n, line: n.Line}
	return nil
}

// Connector returns the connectors.Config for this source.
func (s SourceConfig) Connector(file string, env *connectors.Env) connectors.Config {
	return connectors.Config{
		Name: s.Name,
		Type: s.Type,
		Decode: func(v any) error {
			err := yamlx.Decode(file, s.node, v, connectors.EngineKeys...)
			var ye *yamlx.Error
			if errors.As(err, &ye) && s.key != "" {
				if ye.Key == "" {
					ye.Key = s.key
				} else {
					ye.Key = s.key + "." + ye.Key
				}
			}
			return err
		},
		Env: env,
		Log: envLog(env),
		Invalid: func(key, msg string) error {
			e := &yamlx.Error{File: file, Line: s.line, Key: s.key, Msg: msg}
			if key != "" {
				if e.Key != "" {
					e.Key += "."
				}
				e.Key += key
				if l := lineOfPath(s.node, key); l > 0 {
					e.Line = l
				}
			}
			return e
		},
	}
}

func envLog(env *connectors.Env) *slog.Logger {
	if env == nil {
		return nil
	}
	return env.Log
}

// lineOfPath is the line of a dotted key ("filters.since") in a mapping.
func lineOfPath(m *yaml.Node, key string) int {
	line := 0
	for _, k := range strings.Split(key, ".") {
		if m == nil || m.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == k {
				line, next = m.Content[i].Line, m.Content[i+1]
			}
		}
		if next == nil {
			return line
		}
		m = next
	}
	return line
}

// CheckSources checks, for a command that will open the sources, that
// every source's secret references can be read (an unset variable, an
// unreadable file), with the file, line and key of the first that cannot.
func (c *Config) CheckSources() error {
	for i := range c.Jobs {
		for k := range c.Jobs[i].Sources {
			cc := c.Jobs[i].Sources[k].Connector(c.File, nil)
			cc.Secrets = true
			if err := connectors.CheckConfig(cc); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckTypes reports a source whose type no connector registered (the
// engine's own sources are built another way; the CLI calls this).
func (c *Config) CheckTypes() error {
	for _, j := range c.Jobs {
		for _, s := range j.Sources {
			if !connectors.Known(s.Type) {
				return &yamlx.Error{File: c.File, Line: lineOfPath(s.node, "type"), Key: s.key + ".type",
					Msg: fmt.Sprintf("unknown source type %q (known: %s)", s.Type, strings.Join(connectors.Types(), ", "))}
			}
		}
	}
	return nil
}

// Line is where the source is defined.
func (s SourceConfig) Line() int { return s.line }

// CronParser accepts 5 or 6 fields (seconds first), descriptors such as
// @daily and @every 1h, and CRON_TZ= prefixes.
var CronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// LoadConfig reads and validates a config file. Errors name the file, line
// and key.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses and validates config text; file names it in errors.
func ParseConfig(file string, text []byte) (*Config, error) {
	node, err := yamlx.Parse(file, string(text))
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yamlx.Decode(file, node, &c); err != nil {
		return nil, err
	}
	c.File = file
	if c.Store.Path == "" {
		c.Store.Path = "./syncd-data"
	}
	if !filepath.IsAbs(c.Store.Path) && file != "" {
		c.Store.Path = filepath.Join(filepath.Dir(file), c.Store.Path)
	}
	return &c, c.validate(node)
}

func (s *ServeConfig) validate(errAt func(key, msg string) error) error {
	if s.Local != "" && s.Local != "none" && !validRole(s.Local) {
		return errAt("serve.local", "must be none, viewer, curator or admin")
	}
	if s.MaxUploadMB < 0 {
		return errAt("serve.max_upload_mb", "must not be negative")
	}
	if o := s.OIDC; o != nil {
		n := 0
		for _, v := range []string{o.ClientSecretEnv, o.ClientSecretFile, o.ClientSecretCommand} {
			if v != "" {
				n++
			}
		}
		k := 0
		for _, v := range []string{o.SessionKeyEnv, o.SessionKeyFile, o.SessionKeyCommand} {
			if v != "" {
				k++
			}
		}
		switch {
		case o.Issuer == "":
			return errAt("serve.oidc.issuer", "required (Entra ID: https://login.microsoftonline.com/<tenant>/v2.0)")
		case o.ClientID == "":
			return errAt("serve.oidc.client_id", "required")
		case n != 1:
			return errAt("serve.oidc", "set exactly one of client_secret_env, client_secret_file, client_secret_command")
		case k > 1:
			return errAt("serve.oidc", "set at most one of session_key_env, session_key_file, session_key_command")
		case !strings.HasPrefix(o.RedirectURL, "https://") && !strings.HasPrefix(o.RedirectURL, "http://") || !strings.HasSuffix(o.RedirectURL, "/auth/callback"):
			return errAt("serve.oidc.redirect_url", "required: this server's address as people reach it, ending in /auth/callback")
		}
		for list, grants := range map[string][]ServeRoleGrant{"users": o.Users, "groups": o.Groups} {
			for i, g := range grants {
				if g.Name == "" {
					return errAt(fmt.Sprintf("serve.oidc.%s[%d].name", list, i), "required")
				}
				for ws, r := range g.Roles {
					if !validRole(r) {
						return errAt(fmt.Sprintf("serve.oidc.%s[%d].roles.%s", list, i, ws), "must be viewer, curator or admin")
					}
				}
			}
		}
	}
	names := map[string]bool{}
	for i, t := range s.Tokens {
		key := fmt.Sprintf("serve.tokens[%d]", i)
		n := 0
		for _, v := range []string{t.TokenEnv, t.TokenFile, t.TokenCommand} {
			if v != "" {
				n++
			}
		}
		switch {
		case t.Name == "":
			return errAt(key+".name", "required (the audit log names the token by it)")
		case names[t.Name]:
			return errAt(key+".name", fmt.Sprintf("%q is used twice", t.Name))
		case n != 1:
			return errAt(key, "set exactly one of token_env, token_file, token_command (a token is never written in the config)")
		case len(t.Roles) == 0:
			return errAt(key+".roles", "required: a workspace (or \"*\") and viewer, curator or admin")
		}
		names[t.Name] = true
		for ws, r := range t.Roles {
			if !validRole(r) {
				return errAt(key+".roles."+ws, "must be viewer, curator or admin")
			}
		}
	}
	return nil
}

// validate checks what the schema cannot.
func (c *Config) validate(root *yaml.Node) error {
	errAt := func(line int, key, msg string) error {
		return &yamlx.Error{File: c.File, Line: line, Key: key, Msg: msg}
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			return errAt(lineOf(root, "timezone"), "timezone", err.Error())
		}
	}
	if c.Store.CacheMB < 0 {
		return errAt(lineOf(root, "store"), "store.cache_mb", "must not be negative")
	}
	if c.Store.Blobs != nil && c.Store.Blobs.Remote == "" {
		return errAt(lineOf(root, "store"), "store.blobs.remote", "required")
	}
	if cc := c.Store.Catalog; cc != nil {
		n := 0
		if cc.Postgres != nil {
			for _, v := range []string{cc.Postgres.DSNEnv, cc.Postgres.DSNFile, cc.Postgres.DSNCommand} {
				if v != "" {
					n++
				}
			}
		}
		switch {
		case cc.Postgres == nil:
			return errAt(lineOf(root, "store"), "store.catalog.postgres", "required (the one catalog server syncd knows)")
		case n != 1:
			return errAt(lineOf(root, "store"), "store.catalog.postgres", "set exactly one of dsn_env, dsn_file, dsn_command")
		}
	}
	if c.History.KeyCap < 0 || c.History.KeyCap > 0 && c.History.KeyCap < 2 {
		return errAt(lineOf(root, "history"), "history.key_cap", "must be at least 2 (or left out for the default)")
	}
	if err := c.Serve.validate(func(key, msg string) error { return errAt(lineOfPath(root, "serve"), key, msg) }); err != nil {
		return err
	}
	if len(c.Jobs) == 0 {
		return errAt(root.Line, "jobs", "no jobs configured")
	}
	jobs := map[string]bool{}
	sources := map[string]string{}
	jobNodes := childSeq(root, "jobs")
	for i, j := range c.Jobs {
		line := root.Line
		if i < len(jobNodes) {
			line = jobNodes[i].Line
		}
		key := fmt.Sprintf("jobs[%d]", i)
		if j.Name == "" {
			return errAt(line, key+".name", "required")
		}
		if jobs[j.Name] {
			return errAt(line, key+".name", fmt.Sprintf("duplicate job name %q", j.Name))
		}
		jobs[j.Name] = true
		if j.Schedule != "" {
			if _, err := CronParser.Parse(j.Schedule); err != nil {
				return errAt(line, key+".schedule", err.Error())
			}
		}
		if j.Window != "" {
			if _, _, err := ParseWindow(j.Window); err != nil {
				return errAt(line, key+".window", err.Error())
			}
		}
		if len(j.Sources) == 0 {
			return errAt(line, key+".sources", "no sources")
		}
		if j.Parallel < 0 || j.Concurrency < 0 {
			return errAt(line, key+".parallel", "parallel and concurrency must be 0 (the default) or more")
		}
		for k, s := range j.Sources {
			skey := fmt.Sprintf("%s.sources[%d]", key, k)
			if s.Name == "" {
				return errAt(s.line, skey+".name", "required")
			}
			if s.Type == "" {
				return errAt(s.line, skey+".type", "required (one of "+strings.Join(connectors.Types(), ", ")+")")
			}
			if other, dup := sources[s.Name]; dup {
				return errAt(s.line, skey+".name", fmt.Sprintf("source name %q already used in job %q: source names are global (they key cursors)", s.Name, other))
			}
			if s.Partition && strings.Contains(s.Name, "/") {
				return errAt(s.line, skey+".name", fmt.Sprintf("a partitioned source's name may not contain '/' (%q): its parts' cursors are keyed name/part", s.Name))
			}
			sources[s.Name] = j.Name
			src := &c.Jobs[i].Sources[k]
			src.key = skey
			if err := connectors.CheckConfig(src.Connector(c.File, nil)); err != nil {
				return err
			}
		}
		for k, r := range j.Routes {
			if err := r.validate(); err != nil {
				return errAt(line, fmt.Sprintf("%s.routes[%d]", key, k), err.Error())
			}
		}
	}
	for _, j := range c.Jobs {
		for _, s := range j.Sources {
			if p, _, ok := strings.Cut(s.Name, "/"); ok && c.partitioned(p) {
				return errAt(s.line, s.key+".name", fmt.Sprintf("source name %q would share cursors with the parts of partitioned source %q", s.Name, p))
			}
		}
	}
	return nil
}

// partitioned reports whether the named source is partitioned.
func (c *Config) partitioned(name string) bool {
	for _, j := range c.Jobs {
		for _, s := range j.Sources {
			if s.Name == name {
				return s.Partition
			}
		}
	}
	return false
}

func lineOf(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

func childSeq(m *yaml.Node, key string) []*yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Content
		}
	}
	return nil
}

// Job returns the named job.
func (c *Config) Job(name string) (*Job, error) {
	for i := range c.Jobs {
		if c.Jobs[i].Name == name {
			return &c.Jobs[i], nil
		}
	}
	names := make([]string, len(c.Jobs))
	for i, j := range c.Jobs {
		names[i] = j.Name
	}
	return nil, fmt.Errorf("%w: %q (jobs in %s: %s)", ErrNoJob, name, c.File, strings.Join(names, ", "))
}

// ErrNoJob is returned for an unknown job name.
var ErrNoJob = errors.New("no such job")

// ParseWindow parses "HH:MM-HH:MM" into minutes after midnight.
func ParseWindow(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("window %q: want HH:MM-HH:MM", s)
	}
	pa, err1 := time.Parse("15:04", strings.TrimSpace(a))
	pb, err2 := time.Parse("15:04", strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("window %q: want HH:MM-HH:MM", s)
	}
	return pa.Hour()*60 + pa.Minute(), pb.Hour()*60 + pb.Minute(), nil
}

// parallel is how many of the job's sources are scanned at once.
func (j *Job) parallel() int {
	if j.Parallel > 0 {
		return j.Parallel
	}
	return 4
}

// InWindow reports whether t falls in the job's window (always true when
// no window is set). Windows may wrap midnight.
func (j *Job) InWindow(t time.Time) bool {
	if j.Window == "" {
		return true
	}
	from, to, err := ParseWindow(j.Window)
	if err != nil {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if from <= to {
		return m >= from && m < to
	}
	return m >= from || m < to
}
