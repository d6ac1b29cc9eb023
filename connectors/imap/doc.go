// Package imap is the IMAP connector: it pulls every attachment from the
// configured mailboxes of one account, read-only and incrementally.
package imap

import (
	_ "github.com/emersion/go-imap/v2/imapclient"
	_ "github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)
