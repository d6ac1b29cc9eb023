package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/workload"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

const imapPasswordEnv = "SYNCD_BENCH_IMAP_PASSWORD"

func (b *bench) generate() error {
	start := time.Now()
	wl, err := workload.Generate(b.path("workload"), workload.Default(b.o.scale))
	if err != nil {
		return err
	}
	b.wl = wl
	b.fact("workload generated in %s: mail %d messages in %d mailbox copies (%d attachment parts, %s on the server), "+
		"share %d files (%d distinct contents, %s)", time.Since(start).Round(time.Second), wl.Messages, wl.Deliveries,
		wl.MailStats.Attachments, human(wl.MailStats.Bytes), wl.ShareStats.Files, wl.ShareStats.Distinct, human(wl.ShareStats.Bytes))
	return nil
}

// startDovecot loads a mail tree into a private Dovecot on loopback.
func (b *bench) startDovecot(ctx context.Context, tree string) (*imaptest.Server, error) {
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	srv, err := imaptest.StartDovecot(lctx, tree)
	if err != nil {
		return nil, err
	}
	b.log.Info("dovecot loaded", "addr", srv.Addr, "accounts", len(srv.Users), "took", time.Since(start).Round(time.Second))
	return srv, nil
}

// imap times syncd against mbsync, and against mbsync + ripmime + jdupes,
// on the same accounts served by Dovecot.
func (b *bench) imap(ctx context.Context) error {
	srv, err := b.startDovecot(ctx, b.wl.Mail)
	if err != nil {
		return err
	}
	defer srv.Stop()
	dir := b.path("imap")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "syncd.yaml")
	store := filepath.Join(dir, "store")
	if err := os.WriteFile(cfg, []byte(imapConfig(store, srv)), 0o644); err != nil {
		return err
	}
	maildir := filepath.Join(dir, "maildir")
	mbconf := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(mbconf, []byte(mbsyncConfig(maildir, srv)), 0o600); err != nil {
		return err
	}
	extracted := filepath.Join(dir, "extracted")
	// ripmime reads the files of one directory: run it on every cur/ and
	// new/ folder of the Maildirs, into one folder with unique names.
	pipeline := fmt.Sprintf("set -e; mbsync -q -c %[1]q -a; mkdir -p %[3]q; "+
		"find %[2]q -type d \\( -name cur -o -name new \\) -print0 | xargs -0 -I{} ripmime -i {} -d %[3]q --no-nameless --unique-names --prefix >/dev/null; "+
		"jdupes -r -q -d -N %[3]q >/dev/null; find %[3]q -type f | wc -l", mbconf, maildir, extracted)
	env := []string{imapPasswordEnv + "=" + imaptest.Password}
	mbsync := measure.Cmd{Name: "mbsync", Args: []string{"mbsync", "-q", "-c", mbconf, "-a"}}
	steps := []step{
		{key: "syncd", setup: resetDir(store), cmd: b.syncdCmd("syncd sync", env, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn"),
			after: func(out string) { b.fact("IMAP: syncd summary: %s", summaryLine(out)) }},
		{key: "syncd-again", cmd: b.syncdCmd("syncd sync (again)", env, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn")},
		{key: "syncd-daemon", run: b.daemonResync("mail", cfg, env, nil)},
		{key: "logins", run: imapLogins(srv.Addr, srv.Users, imaptest.Password)},
		{key: "mbsync", setup: mkMaildirs(maildir, srv.Users), cmd: mbsync},
		{key: "mbsync-again", cmd: mbsync},
		{key: "pipeline", setup: func() error { moveAside(extracted); return mkMaildirs(maildir, srv.Users)() }, cmd: measure.Cmd{Name: "mbsync+ripmime+jdupes", Args: []string{"bash", "-c", pipeline}},
			after: func(out string) {
				b.fact("IMAP: ripmime extracted every named part (logos too); jdupes left %s files", strings.TrimSpace(out))
			}},
	}
	if pid, err := childNamed("dovecot"); err == nil {
		b.watch(pid)
		defer b.watch(0)
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	const sec = "IMAP"
	r := row(sec, "sync", "mbsync", s, errs, "syncd", "mbsync", results.WallAtMost(1, "no slower than mbsync"))
	r.Note = serverNote("Dovecot", b.serverCPU, "syncd", "syncd", "mbsync", "mbsync") +
		" (syncd fetches only the attachment parts, as sent, and decodes them itself; mbsync fetches whole messages)"
	b.add(r)
	b.add(row(sec, "sync", "mbsync + ripmime + jdupes", s, errs, "syncd", "pipeline", results.WallAtMost(0.5, ">= 2x faster")))
	r = row(sec, "re-sync, nothing changed", "mbsync, second run", s, errs, "syncd-again", "mbsync-again", results.Target{})
	r.Note = serverNote("Dovecot", b.serverCPU, "syncd", "syncd-again", "mbsync", "mbsync-again")
	b.add(r)
	b.add(row(sec, "re-sync, nothing changed", "syncd first sync", s, errs, "syncd-again", "syncd", results.WallAtMost(0.02, "< 2% of first sync")))
	b.add(row(sec, "re-sync in the daemon (triggered run)", "syncd first sync", s, errs, "syncd-daemon", "syncd", results.WallAtMost(0.02, "< 2% of first sync")))
	r = row(sec, "re-sync in the daemon (triggered run)", "log in and out of every account, side by side (go-imap, nothing else)", s, errs, "syncd-daemon", "logins", results.Target{})
	r.Note = "the server's share of an unchanged re-sync: Dovecot starts an imap-login and an imap process per connection, one connection at a time"
	b.add(r)
	return nil
}

// columns splits a line of syncd's summary table (cells are padded with
// at least two spaces; "1.5 MiB" holds one).
var columns = regexp.MustCompile(`\s{2,}`)

// summaryLine condenses syncd's end-of-run table to its "(all" line.
func summaryLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return oneLine(out, 300)
	}
	head := columns.Split(strings.TrimSpace(lines[0]), -1)
	for _, l := range lines[1:] {
		if !strings.Contains(l, "(all") {
			continue
		}
		vals := columns.Split(strings.TrimSpace(l), -1)
		var parts []string
		for k := 2; k < len(head) && k < len(vals); k++ {
			parts = append(parts, head[k]+" "+vals[k])
		}
		return strings.Join(parts, ", ")
	}
	return oneLine(out, 300)
}

// mkMaildirs resets maildir and creates the per-account roots mbsync
// expects to exist.
func mkMaildirs(maildir string, users []string) func() error {
	return func() error {
		if err := moveAside(maildir); err != nil {
			return err
		}
		for _, u := range users {
			if err := os.MkdirAll(filepath.Join(maildir, u), 0o755); err != nil {
				return err
			}
		}
		return nil
	}
}

func imapConfig(store string, srv *imaptest.Server) string {
	return imapConfigAt(store, srv.Addr, srv.Users)
}

// imapConfigAt is the mail job of users' accounts at addr (the server, or
// a proxy in front of it).
func imapConfigAt(store, addr string, users []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "store:\n  path: %q\njobs:\n  - name: mail\n    workspace: department\n    sources:\n", store)
	for _, u := range users {
		fmt.Fprintf(&b, "      - name: %q\n        type: imap\n        address: %q\n        tls: none\n        username: %q\n        password_env: %s\n",
			"mail-"+u, addr, u, imapPasswordEnv)
	}
	return b.String()
}

// mbsyncConfig pulls every mailbox of every account into Maildir++
// folders, as an admin would with isync.
func mbsyncConfig(maildir string, srv *imaptest.Server) string {
	return mbsyncConfigAt(maildir, srv.Addr, srv.Users)
}

func mbsyncConfigAt(maildir, addr string, users []string) string {
	host, port, _ := strings.Cut(addr, ":")
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, `IMAPAccount %[1]s
Host %[2]s
Port %[3]s
User %[1]s
Pass %[4]s
SSLType None
AuthMechs LOGIN

IMAPStore %[1]s-far
Account %[1]s

MaildirStore %[1]s-near
Path %[5]s/%[1]s/
Inbox %[5]s/%[1]s/INBOX
SubFolders Verbatim

Channel %[1]s
Far :%[1]s-far:
Near :%[1]s-near:
Patterns *
Create Near
Sync Pull
SyncState *

`, u, host, port, imaptest.Password, maildir)
	}
	return b.String()
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}
