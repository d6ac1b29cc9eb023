package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/syncd/syncd/bench/internal/latency"
	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/workload"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// wanLatency is the delay the WAN rows add each way: 20 ms a round trip.
const wanLatency = 10 * time.Millisecond

// many times syncd against mbsync on issue 21's everyday shape (ten
// accounts, a dozen folders each, many small messages: workload.ManySmall)
// straight to Dovecot on loopback and through a proxy adding 20 ms to
// every round trip, as a server across a WAN would.
func (b *bench) many(ctx context.Context) error {
	srv, stop, err := b.mailShape(ctx, "many-small", workload.ManySmall(b.o.scale))
	if err != nil {
		return err
	}
	defer stop()
	proxy, err := latency.Start(srv.Addr, wanLatency)
	if err != nil {
		return err
	}
	defer proxy.Close()
	for _, v := range []struct {
		sec, addr string
	}{{"IMAP, many accounts and folders, small messages", srv.Addr}, {"IMAP, the same with 20 ms round trips", proxy.Addr}} {
		if err := b.manyAt(ctx, v.sec, v.addr, srv.Users); err != nil {
			return err
		}
	}
	return nil
}

// mailShape generates a mail workload of spec, loads it into a private
// Dovecot and watches Dovecot's CPU; stop ends both.
func (b *bench) mailShape(ctx context.Context, name string, spec workload.Spec) (*imaptest.Server, func(), error) {
	start := time.Now()
	wl, err := workload.Generate(b.path("workload-"+name), spec)
	if err != nil {
		return nil, nil, err
	}
	b.fact("%s workload generated in %s: %d messages in %d mailbox copies (%d attachment parts, %s on the server), %d accounts",
		name, time.Since(start).Round(time.Second), wl.Messages, wl.Deliveries, wl.MailStats.Attachments, human(wl.MailStats.Bytes), wl.Spec.Accounts)
	srv, err := b.startDovecot(ctx, wl.Mail)
	if err != nil {
		return nil, nil, err
	}
	if pid, err := childNamed("dovecot"); err == nil {
		b.watch(pid)
	}
	return srv, func() { b.watch(0); srv.Stop() }, nil
}

// manyAt times one first sync and one unchanged re-sync of syncd and of
// mbsync against addr.
func (b *bench) manyAt(ctx context.Context, sec, addr string, users []string) error {
	dir := b.path("many", filepath.Base(addr))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "syncd.yaml")
	store := filepath.Join(dir, "store")
	if err := os.WriteFile(cfg, []byte(imapConfigAt(store, addr, users)), 0o644); err != nil {
		return err
	}
	maildir := filepath.Join(dir, "maildir")
	mbconf := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(mbconf, []byte(mbsyncConfigAt(maildir, addr, users)), 0o600); err != nil {
		return err
	}
	env := []string{imapPasswordEnv + "=" + imaptest.Password}
	mbsync := measure.Cmd{Name: "mbsync", Args: []string{"mbsync", "-q", "-c", mbconf, "-a"}}
	syncd := b.syncdCmd("syncd sync", env, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn")
	steps := []step{
		{key: "syncd", setup: resetDir(store), cmd: syncd,
			after: func(out string) { b.fact("%s: syncd summary: %s", sec, summaryLine(out)) }},
		{key: "syncd-again", cmd: syncd},
		{key: "mbsync", setup: mkMaildirs(maildir, users), cmd: mbsync},
		{key: "mbsync-again", cmd: mbsync},
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	r := row(sec, "sync", "mbsync", s, errs, "syncd", "mbsync", results.WallAtMost(0.7, "<= 0.7x mbsync"))
	r.Note = serverNote("Dovecot", b.serverCPU, "syncd", "syncd", "mbsync", "mbsync")
	b.add(r)
	r = row(sec, "re-sync, nothing changed", "mbsync, second run", s, errs, "syncd-again", "mbsync-again", results.Target{})
	r.Note = serverNote("Dovecot", b.serverCPU, "syncd", "syncd-again", "mbsync", "mbsync-again")
	b.add(r)
	return nil
}

// thousand times the shape of a department's mail server: 1,000 accounts
// with a few small messages each (workload.Thousand), first sync beside
// mbsync and unchanged re-sync beside logging in and out of every
// account (as many at a time as syncd syncs sources: 4).
func (b *bench) thousand(ctx context.Context) error {
	srv, stop, err := b.mailShape(ctx, "thousand-accounts", workload.Thousand(b.o.scale))
	if err != nil {
		return err
	}
	defer stop()
	dir := b.path("thousand")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "syncd.yaml")
	store := filepath.Join(dir, "store")
	if err := os.WriteFile(cfg, []byte(imapConfigAt(store, srv.Addr, srv.Users)), 0o644); err != nil {
		return err
	}
	maildir := filepath.Join(dir, "maildir")
	mbconf := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(mbconf, []byte(mbsyncConfigAt(maildir, srv.Addr, srv.Users)), 0o600); err != nil {
		return err
	}
	env := []string{imapPasswordEnv + "=" + imaptest.Password}
	syncd := b.syncdCmd("syncd sync", env, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn")
	steps := []step{
		{key: "syncd", setup: resetDir(store), cmd: syncd,
			after: func(out string) { b.fact("1,000 accounts: syncd summary: %s", summaryLine(out)) }},
		{key: "syncd-again", cmd: syncd},
		{key: "logins", run: imapLoginsAtATime(srv.Addr, srv.Users, imaptest.Password, 4)},
		{key: "mbsync", setup: mkMaildirs(maildir, srv.Users), cmd: measure.Cmd{Name: "mbsync", Args: []string{"mbsync", "-q", "-c", mbconf, "-a"}}},
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	const sec = "IMAP, 1,000 small accounts"
	r := row(sec, "sync", "mbsync", s, errs, "syncd", "mbsync", results.WallAtMost(0.7, "<= 0.7x mbsync"))
	r.Note = serverNote("Dovecot", b.serverCPU, "syncd", "syncd", "mbsync", "mbsync")
	b.add(r)
	r = row(sec, "re-sync, nothing changed", "log in and out of every account, 4 at a time (go-imap, nothing else)", s, errs, "syncd-again", "logins", results.WallAtMost(1.3, "<= 1.3x"))
	r.Note = serverNote("Dovecot", b.serverCPU, "syncd", "syncd-again", "logins", "logins")
	b.add(r)
	return nil
}
