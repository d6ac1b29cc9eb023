package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/syncd/syncd/bench/internal/latency"
	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/servers"
)

const smbPasswordEnv = "SYNCD_BENCH_SMB_PASSWORD"

// share times syncd against rclone copy (and rclone copy + jdupes) of the
// department share, from local disk (also against cp -r) and from Samba
// on loopback.
func (b *bench) share(ctx context.Context) error {
	src := b.wl.Share
	b.shareFrom(ctx, "share (local disk)", "local", "type: folder\n        path: "+quote(src), src, nil, true)
	b.watch(0)
	smb, err := servers.StartSamba(ctx, src)
	if err != nil {
		return err
	}
	defer smb.Stop()
	b.watch(smb.Pid())
	defer b.watch(0)
	yaml := fmt.Sprintf("type: share\n        remote: %s\n        password_env: %s", quote(smb.Remote()), smbPasswordEnv)
	b.shareFrom(ctx, "share (Samba)", "smb", yaml, smb.CLIRemote(), []string{smbPasswordEnv + "=" + smb.Password}, false)
	return nil
}

// shareJob writes, in a new scratch dir sub, the config of a job with one
// source named name (sourceYAML: its keys, indented) and a store there.
func (b *bench) shareJob(sub, name, sourceYAML string) (dir, cfg, store string, err error) {
	dir = b.path(sub)
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	store = filepath.Join(dir, "store")
	cfg = filepath.Join(dir, "syncd.yaml")
	text := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: share\n    workspace: department\n    sources:\n      - name: %s\n        %s\n", store, name, sourceYAML)
	err = os.WriteFile(cfg, []byte(text), 0o644)
	return
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// shareFrom runs one share comparison; withCp adds cp -r (local only).
func (b *bench) shareFrom(ctx context.Context, sec, name, sourceYAML, rcloneSrc string, env []string, withCp bool) {
	dir, cfg, store, err := b.shareJob("share-"+name, name, sourceYAML)
	if err != nil {
		b.fail(sec, err)
		return
	}
	copyDir := filepath.Join(dir, "copy")
	rclone := measure.Cmd{Name: "rclone copy", Args: []string{"rclone", "copy", "--config", "/dev/null", rcloneSrc, copyDir}}
	pipe := fmt.Sprintf("set -e; rclone copy --config /dev/null %q %q; jdupes -r -q -d -N %q >/dev/null; find %q -type f | wc -l",
		rcloneSrc, copyDir, copyDir, copyDir)
	syncArgs := []string{"sync", "--config", cfg, "--progress", "none", "--log-level", "warn"}
	steps := []step{
		{key: "syncd", setup: resetDir(store), cmd: b.syncdCmd("syncd sync", env, syncArgs...),
			after: func(out string) { b.fact("%s: syncd summary: %s", sec, summaryLine(out)) }},
		{key: "syncd-again", cmd: b.syncdCmd("syncd sync (again)", env, syncArgs...)},
		{key: "syncd-daemon", run: b.daemonResync("share", cfg, env, nil)},
		{key: "rclone", setup: resetDir(copyDir), cmd: rclone},
		{key: "rclone-again", cmd: rclone},
		{key: "rclone-list", cmd: measure.Cmd{Name: "rclone lsf -R", Args: []string{"rclone", "lsf", "-R", "--config", "/dev/null", rcloneSrc}}},
		{key: "pipeline", setup: resetDir(copyDir), cmd: measure.Cmd{Name: "rclone copy+jdupes", Args: []string{"bash", "-c", pipe}},
			after: func(out string) { b.fact("%s: rclone copy + jdupes left %s files", sec, strings.TrimSpace(out)) }},
	}
	if withCp {
		steps = append(steps, step{key: "cp", setup: resetDir(copyDir), cmd: measure.Cmd{Name: "cp -r", Args: []string{"cp", "-r", b.wl.Share, copyDir}}})
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	r := row(sec, "sync", "rclone copy", s, errs, "syncd", "rclone", results.WallAtMost(1, "no slower than rclone copy"))
	r.Note = serverNote("smbd", b.serverCPU, "syncd", "syncd", "rclone copy", "rclone")
	b.add(r)
	b.add(row(sec, "sync", "rclone copy + jdupes", s, errs, "syncd", "pipeline", results.WallAtMost(0.5, ">= 2x faster")))
	if withCp {
		b.add(row(sec, "sync", "cp -r", s, errs, "syncd", "cp", results.WallAtMost(1, "no slower than cp -r")))
	}
	b.add(row(sec, "re-sync, nothing changed", "rclone copy, second run", s, errs, "syncd-again", "rclone-again", results.Target{}))
	b.add(row(sec, "re-sync, nothing changed", "rclone lsf -R (listing only)", s, errs, "syncd-again", "rclone-list", results.Target{}))
	b.add(row(sec, "re-sync, nothing changed", "syncd first sync", s, errs, "syncd-again", "syncd", results.WallAtMost(0.02, "< 2% of first sync")))
	b.add(row(sec, "re-sync in the daemon (triggered run)", "syncd first sync", s, errs, "syncd-daemon", "syncd", results.WallAtMost(0.02, "< 2% of first sync")))
	os.RemoveAll(copyDir)
}

// wanShare times syncd against rclone copy of the department share over
// SFTP (OpenSSH) and SMB (Samba), each behind the latency proxy adding
// 20 ms to every round trip, as a file server across a WAN would be.
func (b *bench) wanShare(ctx context.Context) error {
	src := b.wl.Share
	sftp, err := servers.StartSFTP(ctx)
	if err != nil {
		return err
	}
	defer sftp.Stop()
	sp, err := latency.Start(sftp.Addr(), wanLatency)
	if err != nil {
		return err
	}
	defer sp.Close()
	_, port, _ := strings.Cut(sp.Addr, ":")
	pn, _ := strconv.Atoi(port)
	if err := sftp.KnowPort(pn); err != nil {
		return err
	}
	b.watch(sftp.Pid())
	// shell_type unix for both: neither probes the server's shell;
	// --ignore-checksum: syncd hashes as it reads, rclone would otherwise
	// run md5sum on the server for every file after copying it.
	yaml := fmt.Sprintf("type: share\n        remote: %s\n        key_file: %s\n        options: {shell_type: unix}", quote(sftp.Remote(sp.Addr, src)), quote(sftp.KeyFile))
	cli := strings.Replace(sftp.CLIRemote(sp.Addr, src), ":sftp,", ":sftp,shell_type=unix,", 1)
	b.shareAcross(ctx, "share (SFTP, 20 ms round trips)", "sftp", yaml, cli, nil, []string{"--ignore-checksum"})
	b.watch(0)

	smb, err := servers.StartSamba(ctx, src)
	if err != nil {
		return err
	}
	defer smb.Stop()
	mp, err := latency.Start(smb.Addr(), wanLatency)
	if err != nil {
		return err
	}
	defer mp.Close()
	b.watch(smb.Pid())
	defer b.watch(0)
	yaml = fmt.Sprintf("type: share\n        remote: %s\n        password_env: %s", quote(smb.RemoteAt(mp.Addr)), smbPasswordEnv)
	b.shareAcross(ctx, "share (SMB, 20 ms round trips)", "smb", yaml, smb.CLIRemoteAt(mp.Addr), []string{smbPasswordEnv + "=" + smb.Password}, nil)
	return nil
}

// shareAcross times a first sync and an unchanged re-sync of syncd and of
// rclone copy (with rcloneFlags) from one remote.
func (b *bench) shareAcross(ctx context.Context, sec, name, sourceYAML, rcloneSrc string, env, rcloneFlags []string) {
	dir, cfg, store, err := b.shareJob("wan-"+name, name, sourceYAML)
	if err != nil {
		b.fail(sec, err)
		return
	}
	copyDir := filepath.Join(dir, "copy")
	rclone := measure.Cmd{Name: "rclone copy", Args: append(append([]string{"rclone", "copy", "--config", "/dev/null"}, rcloneFlags...), rcloneSrc, copyDir)}
	syncd := b.syncdCmd("syncd sync", env, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn")
	steps := []step{
		{key: "syncd", setup: resetDir(store), cmd: syncd,
			after: func(out string) { b.fact("%s: syncd summary: %s", sec, summaryLine(out)) }},
		{key: "syncd-again", cmd: syncd},
		{key: "rclone", setup: resetDir(copyDir), cmd: rclone},
		{key: "rclone-again", cmd: rclone},
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	server := "sshd"
	if name == "smb" {
		server = "smbd"
	}
	r := row(sec, "sync", "rclone copy", s, errs, "syncd", "rclone", results.WallAtMost(0.8, "<= 0.8x rclone copy"))
	r.Note = serverNote(server, b.serverCPU, "syncd", "syncd", "rclone copy", "rclone")
	b.add(r)
	b.add(row(sec, "re-sync, nothing changed", "rclone copy, second run", s, errs, "syncd-again", "rclone-again", results.Target{}))
	os.RemoveAll(copyDir)
}
