package imap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"

	"github.com/syncd/syncd/connectors"
)

func init() {
	connectors.Register("imap", func(cfg connectors.Config) (connectors.Source, error) {
		var o Options
		if err := cfg.Decode(&o); err != nil {
			return nil, err
		}
		s, err := New(cfg.Name, o)
		if err != nil {
			return nil, err
		}
		s.log = cfg.Logger().With("source", cfg.Name, "account", s.cfg.Account)
		return s, nil
	})
	connectors.RegisterCheck("imap", Check)
}

// Check is the load-time check of an imap source's config: keys and
// values, and the password (or OAuth2 token) reference.
func Check(cfg connectors.Config) error {
	var o Options
	if err := cfg.Decode(&o); err != nil {
		return err
	}
	if _, err := o.validate(); err != nil {
		return cfg.Errorf("", "%v", err)
	}
	if err := connectors.CheckFile(cfg, "ca_file", o.CAFile); err != nil {
		return err
	}
	if o.OAuth2TokenEnv != "" || o.OAuth2TokenFile != "" || o.OAuth2TokenCommand != "" {
		return connectors.CheckSecret(cfg, "oauth2_token", o.OAuth2TokenEnv, o.OAuth2TokenFile, o.OAuth2TokenCommand, true)
	}
	return connectors.CheckSecret(cfg, "password", o.PasswordEnv, o.PasswordFile, o.PasswordCommand, true)
}

// Source is one IMAP account.
type Source struct {
	name string
	cfg  *settings
	log  *slog.Logger

	// pool of idle connections for Open; slots bounds how many exist.
	mu    sync.Mutex
	idle  []*conn
	slots chan struct{}
	// mailbox display name ("Projects/Q3") -> server name ("Projects.Q3").
	boxes map[string]string

	counters counters
}

type counters struct {
	messages, parts, bytes, reconnects, throttled, problems, logins, examines, gone atomic.Int64
}

var (
	_ connectors.Source  = (*Source)(nil)
	_ connectors.Metered = (*Source)(nil)
)

// New builds a source from decoded options.
func New(name string, o Options) (*Source, error) {
	cfg, err := o.validate()
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", name, err)
	}
	n := max(1, cfg.Connections-max(1, cfg.Connections/2))
	return &Source{
		name:  name,
		cfg:   cfg,
		log:   slog.Default().With("source", name, "account", cfg.Account),
		slots: make(chan struct{}, n),
		boxes: map[string]string{},
	}, nil
}

// Name implements connectors.Source.
func (s *Source) Name() string { return s.name }

// Kind implements connectors.Source.
func (s *Source) Kind() string { return "imap" }

// Counters implements connectors.Metered.
func (s *Source) Counters() connectors.SourceCounters {
	c := &s.counters
	return connectors.SourceCounters{
		MessagesScanned: c.messages.Load(),
		PartsFetched:    c.parts.Load(),
		ReceivedBytes:   c.bytes.Load(),
		Reconnects:      c.reconnects.Load(),
		Throttled:       c.throttled.Load(),
		Problems:        c.problems.Load(),
		Logins:          c.logins.Load(),
		Examines:        c.examines.Load(),
		Gone:            c.gone.Load(),
	}
}

// Close implements connectors.Source.
func (s *Source) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, cn := range idle {
		wg.Add(1)
		go func() { defer wg.Done(); sessions.put(cn) }()
	}
	wg.Wait()
	return nil
}

// acquire takes an idle Open connection or dials a new one. A login the
// server refuses for too many connections (several workers, or several
// parts of one account, at once) is tried again after a back-off, up to
// retries times: by then a connection of this or another process may
// have been given back.
func (s *Source) acquire(ctx context.Context) (*conn, error) {
	for attempt := 0; ; attempt++ {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
		if n := len(s.idle); n > 0 {
			cn := s.idle[n-1]
			s.idle = s.idle[:n-1]
			s.mu.Unlock()
			return cn, nil
		}
		s.mu.Unlock()
		cn, err := s.dial(ctx)
		if err == nil {
			return cn, nil
		}
		<-s.slots
		if !errors.Is(err, ErrThrottled) || attempt >= s.cfg.Retries {
			return nil, err
		}
		s.counters.throttled.Add(1)
		wait := backoff(attempt, err)
		s.log.Warn("imap: login refused, trying again", "attempt", attempt+1, "wait", wait, "err", err)
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// release returns cn to the pool, or drops it when broken is set.
func (s *Source) release(cn *conn, broken bool) {
	if broken {
		cn.c.Close()
	} else {
		select {
		case <-cn.c.Closed():
		default:
			s.mu.Lock()
			s.idle = append(s.idle, cn)
			s.mu.Unlock()
		}
	}
	<-s.slots
}

// mailbox is one selectable mailbox on the server.
type mailbox struct {
	Server  string // name as the server spells it
	Display string // hierarchy joined with "/"
	Attrs   []imap.MailboxAttr
	Status  *imap.StatusData // from LIST-STATUS, when the server has it
}

// listMailboxes returns the mailboxes the config selects, in LIST order.
func (s *Source) listMailboxes(cn *conn) ([]mailbox, error) {
	lo := &imap.ListOptions{}
	caps := cn.c.Caps()
	if caps.Has(imap.CapSpecialUse) {
		lo.ReturnSpecialUse = true
	}
	if caps.Has(imap.CapListStatus) || caps.Has(imap.CapIMAP4rev2) {
		// One LIST tells which mailboxes changed: an unchanged one is
		// then not examined at all (see scanner.mailbox).
		lo.ReturnStatus = &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
			HighestModSeq: caps.Has(imap.CapCondStore)}
	}
	list, err := cn.c.List("", "*", lo).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap %s: list mailboxes: %w", s.name, err)
	}
	var out []mailbox
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range list {
		m := mailbox{Server: d.Mailbox, Display: d.Mailbox, Attrs: d.Attrs, Status: d.Status}
		if d.Delim != 0 && d.Delim != '/' {
			m.Display = strings.ReplaceAll(d.Mailbox, string(d.Delim), "/")
		}
		s.boxes[m.Display] = m.Server
		if hasAttr(d.Attrs, imap.MailboxAttrNoSelect) || hasAttr(d.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		if s.cfg.wants(m) {
			out = append(out, m)
		}
	}
	return out, nil
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

// wants applies mailbox patterns, excludes and special-use attributes.
func (c *settings) wants(m mailbox) bool {
	for _, su := range c.IncludeSpecialUse {
		if hasAttr(m.Attrs, imap.MailboxAttr(su)) {
			return true
		}
	}
	for _, su := range c.ExcludeSpecialUse {
		if hasAttr(m.Attrs, imap.MailboxAttr(su)) {
			return false
		}
	}
	for _, p := range c.ExcludeMailboxes {
		if matchMailbox(p, m.Display) {
			return false
		}
	}
	for _, p := range c.Mailboxes {
		if matchMailbox(p, m.Display) {
			return true
		}
	}
	return false
}

// matchMailbox matches an IMAP LIST-style pattern: '*' matches anything,
// '%' anything but the hierarchy separator '/'. INBOX is case-insensitive.
func matchMailbox(pattern, name string) bool {
	if strings.EqualFold(name, "INBOX") || strings.HasPrefix(strings.ToUpper(name), "INBOX/") {
		name = "INBOX" + name[5:]
		if strings.EqualFold(pattern, "INBOX") || strings.HasPrefix(strings.ToUpper(pattern), "INBOX/") {
			pattern = "INBOX" + pattern[5:]
		}
	}
	return wildMatch(pattern, name)
}

func wildMatch(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*', '%':
			for i := 0; i <= len(s); i++ {
				if p[0] == '%' && i > 0 && s[i-1] == '/' {
					return false
				}
				if wildMatch(p[1:], s[i:]) {
					return true
				}
			}
			return false
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
	}
	return len(s) == 0
}
