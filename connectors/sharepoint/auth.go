package sharepoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kauth "github.com/microsoft/kiota-authentication-azure-go"

	"github.com/syncd/syncd/connectors"
)

// staticToken serves a bearer token obtained elsewhere.
type staticToken struct {
	tok string
	v   *absauth.AllowedHostsValidator
}

func (s staticToken) GetAuthorizationToken(context.Context, *url.URL, map[string]interface{}) (string, error) {
	return s.tok, nil
}

func (s staticToken) GetAllowedHostsValidator() *absauth.AllowedHostsValidator { return s.v }

// authProvider builds the kiota authentication provider: a bearer token by
// reference, or app-only client credentials (secret or certificate) with
// azidentity against authority_host. hc carries token requests (nil: the
// azcore default).
func authProvider(o *Options, hc *http.Client) (absauth.AuthenticationProvider, error) {
	gu, _ := url.Parse(o.GraphURL)
	if o.hasToken() {
		tok, err := connectors.ResolveSecret("access_token", o.AccessTokenEnv, o.AccessTokenFile, o.AccessTokenCommand)
		if err != nil {
			return nil, err
		}
		v := absauth.NewAllowedHostsValidator([]string{gu.Hostname()})
		return absauth.NewBaseBearerTokenAuthenticationProvider(staticToken{tok: tok, v: &v}), nil
	}
	cred, err := credential(o, hc)
	if err != nil {
		return nil, err
	}
	scope := gu.Scheme + "://" + gu.Host + "/.default"
	p, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{gu.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("auth provider: %w", err)
	}
	return p, nil
}

func credential(o *Options, hc *http.Client) (azcore.TokenCredential, error) {
	co := policy.ClientOptions{}
	if o.AuthorityHost != "" {
		co.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: o.AuthorityHost}
	}
	if hc != nil {
		co.Transport = hc
	}
	if o.hasSecret() {
		sec, err := connectors.ResolveSecret("client_secret", o.ClientSecretEnv, o.ClientSecretFile, o.ClientSecretCommand)
		if err != nil {
			return nil, err
		}
		c, err := azidentity.NewClientSecretCredential(o.TenantID, o.ClientID, sec, &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
		if err != nil {
			return nil, fmt.Errorf("client secret credential: %w", err)
		}
		return c, nil
	}
	data, err := os.ReadFile(o.ClientCertificateFile)
	if err != nil {
		return nil, fmt.Errorf("client_certificate_file: %w", err)
	}
	var pw []byte
	p, err := connectors.ResolveSecret("client_certificate_password", o.ClientCertificatePasswordEnv, o.ClientCertificatePasswordFile, o.ClientCertificatePasswordCommand)
	switch {
	case err == nil:
		pw = []byte(p)
	case !errors.Is(err, connectors.ErrNoSecret):
		return nil, err
	}
	certs, key, err := azidentity.ParseCertificates(data, pw)
	if err != nil {
		return nil, fmt.Errorf("client_certificate_file %s: %w", o.ClientCertificateFile, err)
	}
	c, err := azidentity.NewClientCertificateCredential(o.TenantID, o.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
	if err != nil {
		return nil, fmt.Errorf("client certificate credential: %w", err)
	}
	return c, nil
}
