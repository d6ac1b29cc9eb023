// Package imap is the IMAP connector: it pulls every attachment from the
// configured mailboxes of one account, read-only and incrementally.
package imap
