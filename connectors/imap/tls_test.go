package imap_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// selfSigned returns a server certificate for name and its PEM file.
func selfSigned(t *testing.T, name string) (tls.Certificate, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, p
}

// startTLSServer serves bob's fixture INBOX over implicit TLS or STARTTLS.
func startTLSServer(t *testing.T, implicit bool, cert tls.Certificate) string {
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(bob, imaptest.Password)
	u.Create("INBOX", nil)
	raw, err := os.ReadFile(filepath.Join(fixtureDir(t), bob, "INBOX", "0001.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append("INBOX", literal{strings.NewReader(string(raw)), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{imap.CapIMAP4rev1: {}},
	}
	var ln net.Listener
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	} else {
		opts.TLSConfig = cfg
		opts.Caps[imap.CapStartTLS] = struct{}{}
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := imapserver.New(opts)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type literal struct {
	*strings.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

func TestTLSModes(t *testing.T) {
	cert, caFile := selfSigned(t, "imap.test.internal")
	os.Setenv("SYNCD_TEST_IMAP_PW", imaptest.Password)
	for _, mode := range []string{"implicit", "starttls"} {
		t.Run(mode, func(t *testing.T) {
			addr := startTLSServer(t, mode == "implicit", cert)
			mk := func(extra string) (connectors.Source, error) {
				return connectors.New(connectortest.Config(t, "name: tls\ntype: imap\naddress: "+addr+"\ntls: "+mode+
					"\nusername: "+bob+"\npassword_env: SYNCD_TEST_IMAP_PW\n"+extra))
			}
			s, err := mk("ca_file: " + caFile + "\nserver_name: imap.test.internal\n")
			if err != nil {
				t.Fatal(err)
			}
			rec, _ := connectortest.Scan(t, s, nil)
			s.Close()
			if len(rec.Content()) != 1 {
				t.Errorf("%s: %d items", mode, len(rec.Content()))
			}
			// Without the CA the certificate must be refused.
			s, _ = mk("server_name: imap.test.internal\n")
			_, err = s.Scan(t.Context(), nil, &connectortest.Recorder{})
			s.Close()
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("%s without ca_file: err=%v, want a certificate error", mode, err)
			}
		})
	}
}
