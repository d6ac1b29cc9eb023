package imaptest

import (
	"context"
	"os"
	"os/exec"
)

// StartDovecotTree is StartDovecot returning the *Dovecot itself, so a
// fault test can stop it and start it again (Halt, Restart) on the same
// port with the same mail, UIDs and UIDVALIDITY.
func StartDovecotTree(ctx context.Context, dir string) (*Dovecot, error) {
	tree, err := ReadTree(dir)
	if err != nil {
		return nil, err
	}
	d, err := StartDovecotServer(ctx, tree.Accounts())
	if err != nil {
		return nil, err
	}
	for _, acct := range tree.Accounts() {
		if err := Load(ctx, d.Addr, acct, Password, tree[acct]); err != nil {
			d.Stop()
			return nil, err
		}
	}
	return d, nil
}

// Halt stops Dovecot as an administrator would (SIGINT: the master ends
// its login and imap processes, so open sessions drop) and waits until it
// has exited. Its directory and port are kept for Restart.
func (d *Dovecot) Halt() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(os.Interrupt)
	<-d.done
}

// Restart starts a halted Dovecot again on the same port and waits until
// it accepts connections.
func (d *Dovecot) Restart(ctx context.Context) error {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		bin = "/usr/sbin/dovecot"
	}
	d.done = make(chan struct{})
	return d.start(ctx, bin)
}
