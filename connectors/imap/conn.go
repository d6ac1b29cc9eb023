package imap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/syncd/syncd/connectors"
)

// Sentinel errors of the imap connector.
var (
	ErrBadRef       = errors.New("not a ref of this source")
	ErrNoPart       = fmt.Errorf("part %w", connectors.ErrNotFound)
	ErrUIDValidity  = errors.New("mailbox UIDVALIDITY changed")
	ErrThrottled    = errors.New("server throttled the connection")
	ErrDropped      = errors.New("connection dropped")
	ErrNoMechanism  = errors.New("no usable authentication")
	ErrBadEncoding  = errors.New("broken transfer encoding")
	ErrUnknownMbox  = errors.New("mailbox not found")
	ErrNotSupported = errors.New("not supported")
)

// conn is one authenticated IMAP connection and the mailbox it has open.
type conn struct {
	c        *imapclient.Client
	selected string // server mailbox name, "" when none
	validity uint32
	binary   bool
	key      string // its session key (see sessions)
}

// dial connects and authenticates one connection.
func (s *Source) dial(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cr, err := s.credentials()
	if err != nil {
		return nil, err
	}
	key := s.sessionKey(cr)
	if cn := sessions.take(key); cn != nil {
		return cn, nil
	}
	opts := &imapclient.Options{
		WordDecoder: wordDecoder,
		Dialer:      &net.Dialer{Timeout: s.cfg.DialTimeout},
	}
	tcfg, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts.TLSConfig = tcfg
	var c *imapclient.Client
	switch s.cfg.TLS {
	case "implicit":
		c, err = imapclient.DialTLS(s.cfg.Address, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(s.cfg.Address, opts)
	default:
		c, err = imapclient.DialInsecure(s.cfg.Address, opts)
	}
	if err != nil {
		return nil, connectors.Retryable{Err: fmt.Errorf("imap %s: dial %s: %w", s.name, s.cfg.Address, err)}
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := s.login(c, cr); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrThrottled) {
			sessions.drop(key) // the sessions kept here count against the server's limit
		}
		return nil, err
	}
	s.counters.logins.Add(1)
	caps := c.Caps()
	return &conn{c: c, binary: s.cfg.Binary == "auto" && caps.Has(imap.CapBinary), key: key}, nil
}

func (s *Source) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: s.cfg.ServerName, MinVersion: tls.VersionTLS12}
	if cfg.ServerName == "" {
		cfg.ServerName = s.cfg.host
	}
	if s.cfg.CAFile != "" {
		pem, err := os.ReadFile(s.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("imap %s: ca_file: %w", s.name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("imap %s: ca_file %s: no PEM certificates", s.name, s.cfg.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// credentials are the secret a login presents: an OAuth2 token when one
// is configured, else the password.
type credentials struct {
	token, password string
}

func (s *Source) credentials() (credentials, error) {
	o := s.cfg
	tok, err := connectors.ResolveSecret("oauth2_token", o.OAuth2TokenEnv, o.OAuth2TokenFile, o.OAuth2TokenCommand)
	switch {
	case err == nil:
		return credentials{token: tok}, nil
	case !errors.Is(err, connectors.ErrNoSecret):
		return credentials{}, fmt.Errorf("imap %s: %w", s.name, err)
	}
	pw, err := connectors.ResolveSecret("password", o.PasswordEnv, o.PasswordFile, o.PasswordCommand)
	if err != nil {
		return credentials{}, fmt.Errorf("imap %s: %w", s.name, err)
	}
	return credentials{password: pw}, nil
}

// login authenticates with XOAUTH2 when a token is configured, else LOGIN.
func (s *Source) login(c *imapclient.Client, cr credentials) error {
	o := s.cfg
	if cr.token != "" {
		if !c.Caps().Has(imap.AuthCap("XOAUTH2")) {
			return fmt.Errorf("imap %s: server does not offer AUTH=XOAUTH2: %w", s.name, ErrNoMechanism)
		}
		if err := c.Authenticate(&xoauth2{user: o.Username, token: cr.token}); err != nil {
			return fmt.Errorf("imap %s: authenticate %s with XOAUTH2: %w", s.name, o.Username, err)
		}
		return nil
	}
	if err := c.Login(o.Username, cr.password).Wait(); err != nil {
		err = fmt.Errorf("imap %s: login %s: %w", s.name, o.Username, err)
		var ie *imap.Error
		if !errors.As(err, &ie) {
			// No answer from the server: the connection was lost (a server
			// shutting down accepts, then resets).
			return connectors.Retryable{Err: err}
		}
		if ie.Code == imap.ResponseCodeLimit || ie.Code == imap.ResponseCodeUnavailable {
			// Too many connections for the user (Dovecot's
			// mail_max_userip_connections, Exchange's per-mailbox
			// limit) or the server is busy: wait and log in again.
			return connectors.Retryable{Err: fmt.Errorf("%w: %w", ErrThrottled, err)}
		}
		return err
	}
	return nil
}

// xoauth2 is the SASL XOAUTH2 mechanism (Gmail, Microsoft 365), which
// go-sasl no longer ships.
type xoauth2 struct{ user, token string }

var _ sasl.Client = (*xoauth2)(nil)

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next receives the server's error challenge (JSON); answering with an
// empty response makes the server finish with NO, which Authenticate returns.
func (x *xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// examine opens mailbox read-only (EXAMINE) unless it is already open.
func (cn *conn) examine(mbox string) (*imap.SelectData, error) {
	return cn.examined(mbox, cn.startExamine(mbox))
}

// startExamine sends EXAMINE mbox; examined waits for its answer.
func (cn *conn) startExamine(mbox string) *imapclient.SelectCommand {
	opts := &imap.SelectOptions{ReadOnly: true, CondStore: cn.c.Caps().Has(imap.CapCondStore)}
	return cn.c.Select(mbox, opts)
}

func (cn *conn) examined(mbox string, cmd *imapclient.SelectCommand) (*imap.SelectData, error) {
	data, err := cmd.Wait()
	if err != nil {
		cn.selected = ""
		return nil, err
	}
	cn.selected, cn.validity = mbox, data.UIDValidity
	return data, nil
}

var backoffRE = regexp.MustCompile(`(?i)suggested backoff time:?\s*(\d+)\s*(milliseconds|ms|seconds|s)?`)

// classify turns a command error into a Retryable one when the server
// throttled or the connection dropped, with the wait the server asked for.
func classify(c *imapclient.Client, err error) (error, time.Duration) {
	if err == nil {
		return nil, 0
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		wait := time.Duration(0)
		if m := backoffRE.FindStringSubmatch(ie.Text); m != nil {
			n, _ := strconv.Atoi(m[1])
			wait = time.Duration(n) * time.Millisecond
			if m[2] == "seconds" || m[2] == "s" {
				wait = time.Duration(n) * time.Second
			}
		}
		if wait > 0 || ie.Code == imap.ResponseCodeUnavailable || ie.Code == imap.ResponseCodeLimit {
			return connectors.Retryable{Err: fmt.Errorf("%w: %w", ErrThrottled, err)}, wait
		}
		return err, 0
	}
	if errors.Is(err, ErrBadEncoding) {
		return err, 0
	}
	if c != nil {
		select {
		case <-c.Closed():
			return connectors.Retryable{Err: fmt.Errorf("%w: %w", ErrDropped, err)}, 0
		default:
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return connectors.Retryable{Err: fmt.Errorf("%w: %w", ErrDropped, err)}, 0
	}
	return err, 0
}
