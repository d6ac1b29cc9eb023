package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/workload"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

const memLimit = 100 << 20

// big measures syncd's peak memory on one large file (folder source) and
// one large attachment (IMAP), with rclone copy and mbsync beside it, and
// syncd verify's re-hash of the stored large blob.
func (b *bench) big(ctx context.Context) error {
	if err := b.bigFileSync(ctx); err != nil {
		b.fail("large items", err)
	}
	return b.bigMailSync(ctx)
}

func (b *bench) bigFileSync(ctx context.Context) error {
	dir, path, err := b.bigFile()
	if err != nil {
		return err
	}
	work := b.path("big-file")
	store := filepath.Join(work, "store")
	cfg := filepath.Join(work, "syncd.yaml")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	text := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: big\n    workspace: media\n    sources:\n      - name: big-file\n        type: folder\n        path: %q\n", store, dir)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return err
	}
	copyDir := filepath.Join(work, "copy")
	steps := []step{
		{key: "syncd", setup: func() error { os.RemoveAll(store); return readAll(path) }, cmd: b.syncdCmd("syncd sync (1 GB file)", nil, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn")},
		{key: "verify", cmd: b.syncdCmd("syncd verify", nil, "verify", "--config", cfg)},
		{key: "sha256", cmd: measure.Cmd{Name: "hash sha256", Args: []string{b.self, "hash", "-impl", "sha256", path}}},
		{key: "rclone", setup: removeDirs(copyDir), cmd: measure.Cmd{Name: "rclone copy", Args: []string{"rclone", "copy", "--config", "/dev/null", dir, copyDir}}},
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	size := human(b.o.bigSize)
	b.add(row("large items", "sync of one "+size+" file", "rclone copy", s, errs, "syncd", "rclone", results.RSSUnder(memLimit, "peak RSS < 100 MB")))
	b.add(row("hashing", "syncd verify (re-hash the stored "+size+" blob)", "crypto/sha256, one core", s, errs, "verify", "sha256",
		results.WallAtMost(1/0.9, ">= 90% of sha256 throughput")))
	return os.RemoveAll(work)
}

func (b *bench) bigMailSync(ctx context.Context) error {
	tree := b.path("bigmail")
	os.RemoveAll(tree)
	start := time.Now()
	if _, err := workload.BigMail(tree, "ivan", "Site Survey Full.mp4", b.o.bigSize); err != nil {
		return err
	}
	b.log.Info("large message written", "took", time.Since(start).Round(time.Second))
	srv, err := b.startDovecot(ctx, tree)
	if err != nil {
		return err
	}
	defer srv.Stop()
	os.RemoveAll(tree) // Dovecot has its own copy now
	work := b.path("big-mail")
	store := filepath.Join(work, "store")
	cfg := filepath.Join(work, "syncd.yaml")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg, []byte(imapConfig(store, srv)), 0o644); err != nil {
		return err
	}
	maildir := filepath.Join(work, "maildir")
	mbconf := filepath.Join(work, "mbsyncrc")
	if err := os.WriteFile(mbconf, []byte(mbsyncConfig(maildir, srv)), 0o600); err != nil {
		return err
	}
	env := []string{imapPasswordEnv + "=" + imaptest.Password}
	steps := []step{
		{key: "syncd", setup: removeDirs(store), cmd: b.syncdCmd("syncd sync (1 GB attachment)", env, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn")},
		{key: "mbsync", setup: func() error { os.RemoveAll(maildir); return mkMaildirs(maildir, srv.Users)() }, cmd: measure.Cmd{Name: "mbsync", Args: []string{"mbsync", "-q", "-c", mbconf, "-a"}}},
	}
	if pid, err := childNamed("dovecot"); err == nil {
		b.watch(pid)
		defer b.watch(0)
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	r := row("large items", "sync of one message with a "+human(b.o.bigSize)+" attachment", "mbsync", s, errs, "syncd", "mbsync",
		results.RSSUnder(memLimit, "peak RSS < 100 MB"))
	r.Note = serverNote("Dovecot", b.serverCPU, "syncd", "syncd", "mbsync", "mbsync")
	b.add(r)
	return os.RemoveAll(work)
}
