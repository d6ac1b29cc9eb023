// Package sharepoint is syncd's SharePoint Online / OneDrive for Business
// connector over Microsoft Graph (msgraph-sdk-go). It lists every version
// of every file of the configured document libraries as one Item per
// version, incrementally with drive delta, and streams version content.
package sharepoint

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/syncd/syncd/connectors"
)

func init() {
	connectors.Register("sharepoint", New)
	connectors.RegisterCheck("sharepoint", Check)
}

// Check is the load-time check of a sharepoint source's config: keys,
// values and the credential references. It neither connects nor runs a
// secret command.
func Check(cfg connectors.Config) error {
	var o Options
	if err := cfg.Decode(&o); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return cfg.Errorf("", "%v", err)
	}
	for _, f := range []struct{ key, file string }{{"ca_file", o.CAFile}, {"client_certificate_file", o.ClientCertificateFile}} {
		if err := connectors.CheckFile(cfg, f.key, f.file); err != nil {
			return err
		}
	}
	switch {
	case o.hasToken():
		return connectors.CheckSecret(cfg, "access_token", o.AccessTokenEnv, o.AccessTokenFile, o.AccessTokenCommand, true)
	case o.hasSecret():
		return connectors.CheckSecret(cfg, "client_secret", o.ClientSecretEnv, o.ClientSecretFile, o.ClientSecretCommand, true)
	}
	return connectors.CheckSecret(cfg, "client_certificate_password", o.ClientCertificatePasswordEnv,
		o.ClientCertificatePasswordFile, o.ClientCertificatePasswordCommand, false)
}

// Source is one configured SharePoint source.
type Source struct {
	name string
	opt  Options
	g    *graph
	dl   *http.Client // downloads: no overall timeout, redirects not followed
	m    *meter
	gov  *Governor
	log  *slog.Logger
}

var (
	_ connectors.Source  = (*Source)(nil)
	_ connectors.Metered = (*Source)(nil)
)

// UserAgent is sent on every request, in Microsoft's ISV format
// ("ISV|CompanyName|AppName/Version") so that throttling treats syncd as
// a known application.
func UserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "ISV|syncd|syncd/" + v
}

// New is the factory registered as type "sharepoint".
func New(cfg connectors.Config) (connectors.Source, error) {
	var o Options
	if err := cfg.Decode(&o); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	gov := cfg.Env.Shared(o.tenantKey(), func() any { return NewGovernor(o.Concurrency) }).(*Governor)
	s := &Source{name: cfg.Name, opt: o, m: &meter{}, gov: gov, log: cfg.Logger().With("connector", "sharepoint")}
	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 30 * time.Second, ResponseHeaderTimeout: 2 * time.Minute,
		MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true,
	}
	if o.CAFile != "" {
		tc, err := rootCAs(o.CAFile)
		if err != nil {
			return nil, err
		}
		base.TLSClientConfig = tc
	}
	tr := &transport{base: base, gov: gov, m: s.m, ua: UserAgent(), maxRetries: o.MaxRetries, log: s.log}
	g, err := newGraph(&s.opt, tr)
	if err != nil {
		return nil, err
	}
	s.g = g
	s.dl = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s, nil
}

func rootCAs(file string) (*tls.Config, error) {
	pemData, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificates", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Name implements connectors.Source.
func (s *Source) Name() string { return s.name }

// Kind implements connectors.Source.
func (s *Source) Kind() string { return "sharepoint" }

// Close implements connectors.Source.
func (s *Source) Close() error {
	if t, ok := s.dl.Transport.(*transport); ok {
		if b, ok := t.base.(*http.Transport); ok {
			b.CloseIdleConnections()
		}
	}
	return nil
}

// Counters implements connectors.Metered.
func (s *Source) Counters() connectors.SourceCounters { return s.m.counters() }
