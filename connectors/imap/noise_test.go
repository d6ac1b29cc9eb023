package imap_test

import (
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
)

// A signed mail from a Mac, forwarded from a phone: its signature
// (smime.p7s), the AppleDouble companion of its attachment and the body's
// picture turned attachment are skipped with their reasons; the
// spreadsheet and a photo someone named are documents.
func TestMailNoiseOnDovecot(t *testing.T) {
	srv := startDovecot(t)
	raw := `From: Carol <carol@example.org>
To: bob@example.org
Subject: FW: budget
Date: Mon, 1 Apr 2024 10:00:00 +0000
Message-ID: <noise-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=s

--s
Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain

see attached
--m
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name="Budget.xlsx"
Content-Disposition: attachment; filename="Budget.xlsx"
Content-Transfer-Encoding: base64

UEsDBGJ1ZGdldA==
--m
Content-Type: application/applefile; name="._Budget.xlsx"
Content-Disposition: attachment; filename="._Budget.xlsx"
Content-Transfer-Encoding: base64

AAUWBwACAAA=
--m
Content-Type: image/png; name="image001.png"
Content-Disposition: attachment; filename="image001.png"
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--m
Content-Type: image/png; name="site visit.png"
Content-Disposition: attachment; filename="site visit.png"
Content-Transfer-Encoding: base64

iVBORw0KGgpzaXRl
--m
Content-Type: text/html; name="ATT00001.htm"
Content-Disposition: attachment; filename="ATT00001.htm"

<html><body>Sent from my phone</body></html>
--m--
--s
Content-Type: application/pkcs7-signature; name="smime.p7s"
Content-Disposition: attachment; filename="smime.p7s"
Content-Transfer-Encoding: base64

MIAGCSqGSIb3DQEHAqCAMIACAQE=
--s--
`
	appendRaw(t, srv.addr, bob, "INBOX", raw)
	s := newSource(t, srv, bob, "")
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	got := map[string]string{}
	for _, it := range rec.Items {
		if it.Lineage.MessageID == "<noise-1@example.org>" {
			got[it.Name] = it.Skip
		}
	}
	want := map[string]string{
		"Budget.xlsx": "", "site visit.png": "", "._Budget.xlsx": connectors.SkipAppleDouble,
		"image001.png": connectors.SkipSignatureImage, "smime.p7s": connectors.SkipSMIMESignature,
		"ATT00001.htm": connectors.SkipBodyPart,
	}
	if len(got) != len(want) {
		t.Errorf("parts %v, want %v", got, want)
	}
	for name, skip := range want {
		if g, ok := got[name]; !ok || g != skip {
			t.Errorf("%s: skip %q (listed %v), want %q", name, g, ok, skip)
		}
	}
}
