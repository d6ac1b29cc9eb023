package sharepoint

import (
	"fmt"
	"net/url"
	"strings"
)

// Options are the source's YAML options.
type Options struct {
	TenantID string `yaml:"tenant_id"`
	ClientID string `yaml:"client_id"`
	// Client secret by reference.
	ClientSecretEnv     string `yaml:"client_secret_env"`
	ClientSecretFile    string `yaml:"client_secret_file"`
	ClientSecretCommand string `yaml:"client_secret_command"`
	// Client certificate (PEM or PKCS#12) and its optional password by reference.
	ClientCertificateFile            string `yaml:"client_certificate_file"`
	ClientCertificatePasswordEnv     string `yaml:"client_certificate_password_env"`
	ClientCertificatePasswordFile    string `yaml:"client_certificate_password_file"`
	ClientCertificatePasswordCommand string `yaml:"client_certificate_password_command"`
	// A ready bearer token by reference (e.g. from `az account get-access-token`).
	AccessTokenEnv     string `yaml:"access_token_env"`
	AccessTokenFile    string `yaml:"access_token_file"`
	AccessTokenCommand string `yaml:"access_token_command"`

	Site      string   `yaml:"site"`      // "host:/sites/path" or a site id
	Sites     []string `yaml:"sites"`     // more sites
	Libraries []string `yaml:"libraries"` // library names (or drive ids); default all
	Folder    string   `yaml:"folder"`    // only items below this folder of each library
	// OneDrive for Business drives of these users (id or UPN).
	UserDrives []string `yaml:"user_drives"`
	Drives     []string `yaml:"drives"` // drive ids

	GraphURL      string `yaml:"graph_url"`      // default https://graph.microsoft.com/v1.0
	AuthorityHost string `yaml:"authority_host"` // default https://login.microsoftonline.com/
	// DisableInstanceDiscovery skips Entra instance discovery (private
	// clouds, Azure Stack, test authorities).
	DisableInstanceDiscovery bool `yaml:"disable_instance_discovery"`
	// CAFile is a PEM bundle of extra root certificates to trust for Graph
	// and the authority (TLS-inspecting proxies).
	CAFile string `yaml:"ca_file"`

	MaxVersions int   `yaml:"max_versions"` // newest N versions per file; 0 = all
	MaxSize     int64 `yaml:"max_size"`     // bytes; larger versions are skipped; 0 = no limit
	Concurrency int   `yaml:"concurrency"`  // parallel Graph requests per tenant; default 4
	// MaxRetries bounds retries of one throttled or failed request (default 8).
	MaxRetries int `yaml:"max_retries"`
}

const defaultGraphURL = "https://graph.microsoft.com/v1.0"

func (o *Options) validate() error {
	if o.GraphURL == "" {
		o.GraphURL = defaultGraphURL
	}
	o.GraphURL = strings.TrimSuffix(o.GraphURL, "/")
	u, err := url.Parse(o.GraphURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("graph_url %q: want an absolute http(s) URL", o.GraphURL)
	}
	if o.Site == "" && len(o.Sites) == 0 && len(o.UserDrives) == 0 && len(o.Drives) == 0 {
		return fmt.Errorf("set site, sites, user_drives or drives")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 8
	}
	if o.MaxVersions < 0 || o.MaxSize < 0 {
		return fmt.Errorf("max_versions and max_size must not be negative")
	}
	o.Folder = strings.Trim(o.Folder, "/")
	return o.validateAuth()
}

func (o *Options) hasToken() bool {
	return o.AccessTokenEnv != "" || o.AccessTokenFile != "" || o.AccessTokenCommand != ""
}

func (o *Options) hasSecret() bool {
	return o.ClientSecretEnv != "" || o.ClientSecretFile != "" || o.ClientSecretCommand != ""
}

func (o *Options) validateAuth() error {
	n := 0
	for _, b := range []bool{o.hasToken(), o.hasSecret(), o.ClientCertificateFile != ""} {
		if b {
			n++
		}
	}
	switch {
	case n == 0:
		return fmt.Errorf("no credentials: set access_token_env/_file, client_secret_env/_file or client_certificate_file")
	case n > 1:
		return fmt.Errorf("set only one of access_token_*, client_secret_*, client_certificate_file")
	case !o.hasToken() && (o.TenantID == "" || o.ClientID == ""):
		return fmt.Errorf("tenant_id and client_id are required for client credentials")
	}
	return nil
}

// siteList returns every configured site.
func (o *Options) siteList() []string {
	var out []string
	if o.Site != "" {
		out = append(out, o.Site)
	}
	return append(out, o.Sites...)
}

// tenantKey names the throttling governor shared by every source of one
// tenant (the token's tenant is unknown without parsing it, so sources
// using bearer tokens share per Graph host).
func (o *Options) tenantKey() string {
	u, _ := url.Parse(o.GraphURL)
	t := o.TenantID
	if t == "" {
		t = "token"
	}
	return "sharepoint/governor/" + u.Host + "/" + t
}
