package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/syncd/syncd/bench/internal/servers"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// serveMain is the hidden `benchrun serve -mail TREE [-share DIR]`: the
// benchmark's servers, kept up until interrupted, for profiling one row by
// hand. It prints the addresses and the password.
func serveMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchrun serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mail := fs.String("mail", "", "mail tree `dir` to load into Dovecot")
	share := fs.String("share", "", "`dir` to serve over SMB")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *mail != "" {
		srv, err := imaptest.StartDovecot(ctx, *mail)
		if err != nil {
			fmt.Fprintln(stderr, "benchrun serve:", err)
			return 1
		}
		defer srv.Stop()
		fmt.Fprintf(stdout, "imap %s users %v password %s\n", srv.Addr, srv.Users, imaptest.Password)
	}
	if *share != "" {
		smb, err := servers.StartSamba(ctx, *share)
		if err != nil {
			fmt.Fprintln(stderr, "benchrun serve:", err)
			return 1
		}
		defer smb.Stop()
		fmt.Fprintf(stdout, "smb remote %s password %s\n", smb.Remote(), smb.Password)
	}
	<-ctx.Done()
	return 0
}
