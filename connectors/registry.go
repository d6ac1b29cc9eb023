package connectors

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Config is what a connector factory receives: its source's name and raw
// options decoded from the YAML config, plus a Resolver for secrets.
type Config struct {
	Name string
	Type string
	// Decode decodes the source's options (its YAML mapping, less
	// EngineKeys) into a struct with `yaml` tags, rejecting unknown keys
	// with an error naming the file, line and key. Secrets are given by
	// reference (password_env, password_file, ...): see ResolveSecret.
	Decode func(v any) error
	// Env lets the connector publish process-wide services (throttle
	// governors, test servers); may be nil.
	Env *Env
	// Log is the engine's logger (its level and format); nil means
	// slog.Default(). Connectors log through Logger.
	Log *slog.Logger
	// Secrets asks a load-time check (CheckConfig) to also make sure the
	// secret references can be read: set by the commands that open
	// sources (sync, plan, run), not by those that only read the store.
	Secrets bool
	// Invalid, when set, makes a config error about one of the source's
	// keys ("" for the source as a whole) that names the file, line and
	// key; see Config.Errorf.
	Invalid func(key, msg string) error
}

// Logger is the logger a connector logs through: Log, else slog.Default().
func (c Config) Logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// Errorf is a config error about key (a key of the source's mapping, ""
// for the source as a whole): through Invalid when set, so that it names
// the file, line and key.
func (c Config) Errorf(key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if c.Invalid != nil {
		return c.Invalid(key, msg)
	}
	if key == "" {
		return fmt.Errorf("source %q: %s", c.Name, msg)
	}
	return fmt.Errorf("source %q: %s: %s", c.Name, key, msg)
}

// Env holds process-wide shared state for connectors (for example one
// throttling governor per tenant shared by every source).
type Env struct {
	// Log is the logger given to every source built with this Env (the
	// engine's, with the configured level and format).
	Log *slog.Logger

	mu     sync.Mutex
	shared map[string]any
}

// Shared returns the value for key, creating it with mk on first use.
func (e *Env) Shared(key string, mk func() any) any {
	if e == nil {
		return mk()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shared == nil {
		e.shared = map[string]any{}
	}
	v, ok := e.shared[key]
	if !ok {
		v = mk()
		e.shared[key] = v
	}
	return v
}

// EngineKeys are the keys of a source entry that the engine consumes; they
// are not passed to the connector's Decode.
var EngineKeys = []string{"name", "type", "workspace", "routes", "enabled", "partition"}

// Factory builds a Source from its config.
type Factory func(cfg Config) (Source, error)

// Check validates a source's config when the config file is loaded,
// without connecting or reading a secret's value: every key known and of
// its type, values valid, and each secret reference usable (the variable
// set, the file readable). Errors come from cfg.Decode or cfg.Errorf, so
// they name the file, line and key.
type Check func(cfg Config) error

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
	checks   = map[string]Check{}
)

// RegisterCheck adds the load-time check of a registered source type.
func RegisterCheck(typ string, c Check) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := checks[typ]; dup {
		panic("connectors: duplicate check for type " + typ)
	}
	checks[typ] = c
}

// Known reports whether a source type is registered.
func Known(typ string) bool {
	regMu.RLock()
	defer regMu.RUnlock()
	_, ok := registry[typ]
	return ok
}

// CheckConfig runs the load-time check of cfg's type. A type without a
// check (or not registered here: the engine may build it another way)
// passes; New still validates it when the source is built.
func CheckConfig(cfg Config) error {
	regMu.RLock()
	c := checks[cfg.Type]
	regMu.RUnlock()
	if c == nil {
		return nil
	}
	return c(cfg)
}

// Register makes a source type available. It panics on duplicates, as it is
// called from init functions.
func Register(typ string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[typ]; dup {
		panic("connectors: duplicate type " + typ)
	}
	registry[typ] = f
}

// New builds a source of a registered type.
func New(cfg Config) (Source, error) {
	regMu.RLock()
	f, ok := registry[cfg.Type]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("source %q: unknown type %q (known: %v)", cfg.Name, cfg.Type, Types())
	}
	s, err := f(cfg)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}
	return s, nil
}

// Types lists the registered source types, sorted.
func Types() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
