package imaptest

import (
	"context"
	"fmt"
	"net"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Memory is an in-process go-imap server (imapmemserver) on loopback.
type Memory struct {
	Server
	mem *imapmemserver.Server
	srv *imapserver.Server
}

// StartMemoryServer starts an empty in-process IMAP server on 127.0.0.1
// with the given accounts (password Password), each with an INBOX.
// It advertises IMAP4rev1 only, so clients use BODY[] fetches.
func StartMemoryServer(users []string) (*Memory, error) {
	mem := imapmemserver.New()
	for _, u := range users {
		usr := imapmemserver.NewUser(u, Password)
		if err := usr.Create("INBOX", nil); err != nil {
			return nil, fmt.Errorf("imaptest: create INBOX for %s: %w", u, err)
		}
		mem.AddUser(usr)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("imaptest: listen: %w", err)
	}
	go srv.Serve(ln)
	m := &Memory{mem: mem, srv: srv}
	m.Addr = ln.Addr().String()
	m.Users = append([]string(nil), users...)
	m.Stop = srv.Close
	return m, nil
}

// StartMemory starts an in-process server seeded from a mail tree (see the
// package comment) and returns its address, accounts and stop function.
func StartMemory(ctx context.Context, dir string) (*Server, error) {
	tree, err := ReadTree(dir)
	if err != nil {
		return nil, err
	}
	m, err := StartMemoryServer(tree.Accounts())
	if err != nil {
		return nil, err
	}
	for _, acct := range tree.Accounts() {
		if err := Load(ctx, m.Addr, acct, Password, tree[acct]); err != nil {
			m.Stop()
			return nil, err
		}
	}
	return &m.Server, nil
}
