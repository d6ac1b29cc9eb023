package imap

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"
)

// Options are the YAML keys of an imap source.
type Options struct {
	Address    string `yaml:"address"`     // host:port
	TLS        string `yaml:"tls"`         // implicit (default) | starttls | none
	CAFile     string `yaml:"ca_file"`     // PEM bundle trusted instead of the system roots
	ServerName string `yaml:"server_name"` // TLS name to verify, default: host of address

	Username           string `yaml:"username"`
	Account            string `yaml:"account"` // label used in refs and lineage, default username
	PasswordEnv        string `yaml:"password_env"`
	PasswordFile       string `yaml:"password_file"`
	PasswordCommand    string `yaml:"password_command"`
	OAuth2TokenEnv     string `yaml:"oauth2_token_env"`
	OAuth2TokenFile    string `yaml:"oauth2_token_file"`
	OAuth2TokenCommand string `yaml:"oauth2_token_command"`

	Mailboxes         []string `yaml:"mailboxes"`           // names or patterns (* and %), default ["*"]
	ExcludeMailboxes  []string `yaml:"exclude_mailboxes"`   // default Trash, Junk, Drafts, Spam, Deleted Items
	IncludeSpecialUse []string `yaml:"include_special_use"` // e.g. ["\\Sent"]: also scan these, even if not matched
	ExcludeSpecialUse []string `yaml:"exclude_special_use"` // default \Trash \Junk \Drafts

	Connections int           `yaml:"connections"`  // default 4: one scans, the rest serve Open
	BatchSize   int           `yaml:"batch_size"`   // messages per metadata FETCH, default 200
	DialTimeout time.Duration `yaml:"dial_timeout"` // default 30s
	Retries     int           `yaml:"retries"`      // reconnect attempts after a drop or throttle, default 5
	Binary      string        `yaml:"binary"`       // never (default: fetch parts encoded, decode here) | auto (BINARY.PEEK when advertised)

	Attachments AttachmentOptions `yaml:"attachments"`
	Filters     FilterOptions     `yaml:"filters"`
}

// AttachmentOptions choose which MIME parts are documents.
type AttachmentOptions struct {
	InlineWithFilename *bool `yaml:"inline_with_filename"` // inline parts with a name (Apple Mail PDFs); default true
	EmbeddedImages     *bool `yaml:"embedded_images"`      // images shown by the HTML via cid: (logos); default false
	CalendarInvites    *bool `yaml:"calendar_invites"`     // text/calendar, .ics; default false
	ForwardedMessages  *bool `yaml:"forwarded_messages"`   // recurse into message/rfc822; default true
	TNEF               *bool `yaml:"tnef"`                 // unpack winmail.dat; default true
	MaxDepth           int   `yaml:"max_depth"`            // message/rfc822 nesting, default 5
}

// FilterOptions restrict which messages and parts are taken. Parts left out
// by a filter are reported with a Skip reason.
type FilterOptions struct {
	Since      string   `yaml:"since"`       // YYYY-MM-DD: messages dated on or after
	Before     string   `yaml:"before"`      // YYYY-MM-DD: messages dated before
	From       []string `yaml:"from"`        // addresses or domains ("example.org")
	To         []string `yaml:"to"`          // addresses or domains, matched against To and Cc
	Subject    string   `yaml:"subject"`     // regular expression
	MinSize    int64    `yaml:"min_size"`    // bytes (decoded, estimated from the encoded size)
	MaxSize    int64    `yaml:"max_size"`    // bytes, 0 = no limit
	AllowTypes []string `yaml:"allow_types"` // media types, "image/*" allowed
	DenyTypes  []string `yaml:"deny_types"`
	AllowExt   []string `yaml:"allow_extensions"` // ".pdf" or "pdf"
	DenyExt    []string `yaml:"deny_extensions"`
}

// settings is Options validated, with defaults applied.
type settings struct {
	Options
	host      string
	since     time.Time
	before    time.Time
	subjectRE *regexp.Regexp
}

var defaultExcludes = []string{"Trash", "Junk", "Drafts", "Spam", "Deleted Items", "Junk Email", "Deleted Messages"}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func (o Options) validate() (*settings, error) {
	s := &settings{Options: o}
	if o.Address == "" {
		return nil, fmt.Errorf("address is required")
	}
	host, _, err := net.SplitHostPort(o.Address)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", o.Address, err)
	}
	s.host = host
	switch strings.ToLower(o.TLS) {
	case "", "implicit":
		s.TLS = "implicit"
	case "starttls", "none":
		s.TLS = strings.ToLower(o.TLS)
	default:
		return nil, fmt.Errorf("tls: %q is not one of implicit, starttls, none", o.TLS)
	}
	if o.Username == "" {
		return nil, fmt.Errorf("username is required")
	}
	if s.Account == "" {
		s.Account = o.Username
	}
	if err := s.defaults(); err != nil {
		return nil, err
	}
	return s, s.parseFilters()
}

func (s *settings) defaults() error {
	if len(s.Mailboxes) == 0 {
		s.Mailboxes = []string{"*"}
	}
	if s.ExcludeMailboxes == nil {
		s.ExcludeMailboxes = defaultExcludes
	}
	if s.ExcludeSpecialUse == nil {
		s.ExcludeSpecialUse = []string{`\Trash`, `\Junk`, `\Drafts`}
	}
	if s.Connections <= 0 {
		s.Connections = 4
	}
	if s.BatchSize <= 0 {
		s.BatchSize = 200
	}
	if s.DialTimeout <= 0 {
		s.DialTimeout = 30 * time.Second
	}
	if s.Retries <= 0 {
		s.Retries = 5
	}
	if s.Attachments.MaxDepth <= 0 {
		s.Attachments.MaxDepth = 5
	}
	switch s.Binary {
	case "":
		s.Binary = "never"
	case "auto", "never":
	default:
		return fmt.Errorf("binary: %q is not one of auto, never", s.Binary)
	}
	return nil
}

func (s *settings) parseFilters() error {
	f := s.Filters
	var err error
	if f.Since != "" {
		if s.since, err = time.Parse(time.DateOnly, f.Since); err != nil {
			return fmt.Errorf("filters.since: %w", err)
		}
	}
	if f.Before != "" {
		if s.before, err = time.Parse(time.DateOnly, f.Before); err != nil {
			return fmt.Errorf("filters.before: %w", err)
		}
	}
	if f.Subject != "" {
		if s.subjectRE, err = regexp.Compile(f.Subject); err != nil {
			return fmt.Errorf("filters.subject: %w", err)
		}
	}
	if f.MaxSize > 0 && f.MinSize > f.MaxSize {
		return fmt.Errorf("filters: min_size %d > max_size %d", f.MinSize, f.MaxSize)
	}
	return nil
}
