package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/syncd/syncd/bench/internal/servers"
	"github.com/syncd/syncd/bench/internal/workload"
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

// generateMain is the hidden `benchrun generate -dir DIR [-scale S]
// [-big-mb N]`: the workload alone (mail/, share/, and with -big-mb the
// large file in bigfile/ and the large message in bigmail/), to look at
// or to serve by hand.
func generateMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchrun generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "output `dir`")
	scale := fs.Float64("scale", 1, "workload size factor")
	big := fs.Int64("big-mb", 0, "also write the large items of this size, MiB")
	if err := fs.Parse(args); err != nil || *dir == "" {
		fmt.Fprintln(stderr, "usage: benchrun generate -dir DIR [-scale S] [-big-mb N]")
		return 2
	}
	w, err := workload.Generate(*dir, workload.Default(*scale))
	if err == nil && *big > 0 {
		if _, err = workload.BigFile(filepath.Join(*dir, "bigfile"), "Site Survey Full.mp4", *big<<20); err == nil {
			_, err = workload.BigMail(filepath.Join(*dir, "bigmail"), "ivan", "Site Survey Full.mp4", *big<<20)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "benchrun generate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "mail: %d messages, %d mailbox copies, %s\nshare: %d files, %d distinct, %s\n",
		w.Messages, w.Deliveries, human(w.MailStats.Bytes), w.ShareStats.Files, w.ShareStats.Distinct, human(w.ShareStats.Bytes))
	return 0
}
