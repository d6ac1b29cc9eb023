package connectors

import (
	"fmt"
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
}

// Env holds process-wide shared state for connectors (for example one
// throttling governor per tenant shared by every source).
type Env struct {
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
var EngineKeys = []string{"name", "type", "workspace", "routes", "enabled"}

// Factory builds a Source from its config.
type Factory func(cfg Config) (Source, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

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
