package imap_test

import (
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
)

// TestConfigKeys: the documented keys decode, unknown keys and bad values
// are refused with an error naming them.
func TestConfigKeys(t *testing.T) {
	good := `
name: finance-mail
type: imap
address: imap.example.gov.uk:993
tls: implicit
ca_file: ""
server_name: imap.example.gov.uk
username: finance@example.gov.uk
password_env: FINANCE_IMAP_PASSWORD
mailboxes: ["INBOX", "Projects/*"]
exclude_mailboxes: ["Trash", "Junk"]
include_special_use: ['\Sent']
connections: 4
batch_size: 100
dial_timeout: 20s
retries: 3
binary: never
attachments:
  inline_with_filename: true
  embedded_images: false
  calendar_invites: false
  forwarded_messages: true
  tnef: true
  max_depth: 3
filters:
  since: "2020-01-01"
  before: "2030-01-01"
  from: ["example.gov.uk"]
  to: ["finance@example.gov.uk"]
  subject: "(?i)invoice"
  min_size: 100
  max_size: 104857600
  allow_types: ["application/*"]
  deny_types: ["image/*"]
  allow_extensions: [".pdf", "docx"]
  deny_extensions: [".exe"]
`
	s, err := connectors.New(connectortest.Config(t, good))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for bad, want := range map[string]string{
		"tls: sometimes":          "tls",
		"filters:\n  since: May":  "since",
		"filters:\n  subject: (":  "subject",
		"mailbox: INBOX":          "mailbox",
		"attachments:\n  pdf: no": "pdf",
	} {
		text := "name: x\ntype: imap\naddress: h:993\nusername: u\n" + bad
		_, err := connectors.New(connectortest.Config(t, text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err=%v, want one naming %q", bad, err, want)
		}
	}
}
