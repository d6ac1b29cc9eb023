package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/syncd/syncd/bench/internal/latency"
	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/connectors/imap/imaptest"
	"github.com/syncd/syncd/connectors/share/sharetest"
	"github.com/syncd/syncd/internal/pgtest"
)

const (
	clusterDSNEnv    = "SYNCD_BENCH_PG_DSN"
	clusterS3Env     = "SYNCD_BENCH_S3_SECRET"
	clusterLatency   = 10 * time.Millisecond // each way: +20 ms a round trip
	clusterSection   = "Cluster"
	clusterBucket    = "bench"
	clusterJobName   = "mail"
	clusterParallel  = 1 // sources a worker runs at once: the workers are what spreads them
	clusterMaxWorker = 4
)

// cluster times the mail job on a cluster store (PostgreSQL with its
// default durability, rclone's S3 server) with 1, 2 and 4 `syncd sync
// --join` workers, the IMAP server behind a proxy adding 20 ms to every
// round trip, as a server across a network would; and one worker on the
// embedded store (SQLite and a folder), same job, same proxy.
func (b *bench) cluster(ctx context.Context) error {
	srv, err := b.startDovecot(ctx, b.wl.Mail)
	if err != nil {
		return err
	}
	defer srv.Stop()
	proxy, err := latency.Start(srv.Addr, clusterLatency)
	if err != nil {
		return err
	}
	defer proxy.Close()
	pg, err := pgtest.Start(true)
	if err != nil {
		return err
	}
	defer pg.Stop()
	dir := b.path("cluster")
	if err := os.MkdirAll(filepath.Join(dir, "s3", clusterBucket), 0o755); err != nil {
		return err
	}
	s3, stopS3, err := sharetest.StartS3In(filepath.Join(dir, "s3"))
	if err != nil {
		return err
	}
	defer stopS3()
	b.fact("Cluster: %d mail accounts behind a TCP proxy adding %s each way; PostgreSQL (fsync and synchronous commit on) and rclone's S3 server on this machine; each worker runs one source at a time (parallel: %d)",
		len(srv.Users), clusterLatency, clusterParallel)

	n := 0
	// fresh writes a config for a new, empty store: a cluster store (a
	// new database and bucket prefix) or an embedded one.
	fresh := func(clustered bool) (cfg string, env []string, err error) {
		n++
		d := filepath.Join(dir, fmt.Sprintf("store-%d", n))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, err
		}
		var st strings.Builder
		fmt.Fprintf(&st, "store:\n  path: %q\n", filepath.Join(d, "store"))
		env = []string{imapPasswordEnv + "=" + imaptest.Password}
		if clustered {
			dsn, err := pg.CreateDB(fmt.Sprintf("bench%d", n))
			if err != nil {
				return "", nil, err
			}
			fmt.Fprintf(&st, "  catalog:\n    postgres: {dsn_env: %s}\n", clusterDSNEnv)
			fmt.Fprintf(&st, "  blobs:\n    remote: \":s3:%s/run%d\"\n    options: {provider: Other, endpoint: %q, access_key_id: %s, force_path_style: \"true\"}\n    password_env: %s\n",
				clusterBucket, n, s3.Endpoint, s3.KeyID, clusterS3Env)
			env = append(env, clusterDSNEnv+"="+dsn, clusterS3Env+"="+s3.Secret)
		}
		fmt.Fprintf(&st, "jobs:\n  - name: %s\n    workspace: department\n    parallel: %d\n    sources:\n", clusterJobName, clusterParallel)
		for _, u := range srv.Users {
			fmt.Fprintf(&st, "      - name: %q\n        type: imap\n        partition: true\n        address: %q\n        tls: none\n        username: %q\n        password_env: %s\n",
				"mail-"+u, proxy.Addr, u, imapPasswordEnv)
		}
		cfg = filepath.Join(d, "syncd.yaml")
		return cfg, env, os.WriteFile(cfg, []byte(st.String()), 0o644)
	}
	// workers times k workers started together on a new store, until the
	// last ends: wall from the first start, CPU summed, the largest RSS.
	workers := func(k int, clustered bool) func(context.Context) (measure.Sample, error) {
		return func(ctx context.Context) (measure.Sample, error) {
			cfg, env, err := fresh(clustered)
			if err != nil {
				return measure.Sample{}, err
			}
			args := []string{"sync", "--config", cfg, "--progress", "none", "--log-level", "warn"}
			if k > 1 {
				args = append(args, "--join")
			}
			var (
				mu   sync.Mutex
				all  measure.Sample
				errs []string
				wg   sync.WaitGroup
			)
			start := time.Now()
			for i := range k {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := b.syncdCmd(fmt.Sprintf("worker %d of %d", i+1, k), env, args...)
					c.Limit = 2 * b.o.limit
					s, err := measure.Run(ctx, c)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err.Error())
					}
					all.CPU += s.CPU
					all.MaxRSS = max(all.MaxRSS, s.MaxRSS)
				}()
			}
			wg.Wait()
			all.Wall = time.Since(start)
			if len(errs) > 0 {
				return all, fmt.Errorf("%s", strings.Join(errs, "; "))
			}
			return all, nil
		}
	}
	steps := []step{
		{key: "embedded-1", run: workers(1, false)},
		{key: "cluster-1", run: workers(1, true)},
		{key: "cluster-2", run: workers(2, true)},
		{key: "cluster-4", run: workers(clusterMaxWorker, true)},
	}
	s, errs := b.repeat(ctx, b.o.reps, steps)
	latencyNote := fmt.Sprintf("%d mailboxes, IMAP behind +%s round trips, one source at a time per worker", len(srv.Users), 2*clusterLatency)
	r := row(clusterSection, "mail sync, 2 workers (cluster store)", "1 worker", s, errs, "cluster-2", "cluster-1", results.WallAtMost(1/1.8, ">= 1.8x faster"))
	r.Note = latencyNote
	b.add(r)
	r = row(clusterSection, "mail sync, 4 workers (cluster store)", "1 worker", s, errs, "cluster-4", "cluster-1", results.WallAtMost(1/3.2, ">= 3.2x faster"))
	r.Note = latencyNote
	b.add(r)
	r = row(clusterSection, "mail sync, 1 worker on PostgreSQL + S3", "the same on SQLite + disk", s, errs, "cluster-1", "embedded-1", results.WallAtMost(1.5, "within 1.5x"))
	r.Note = "PostgreSQL with fsync and synchronous commit on, S3 on loopback: the cost of the store, not of a network to it"
	b.add(r)
	return nil
}
