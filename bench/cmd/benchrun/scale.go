package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/scale"
	"github.com/syncd/syncd/internal/pgtest"
	"github.com/syncd/syncd/workspace"
)

// scaleSpecVersion changes when scale.Populate writes something else, so
// that a cached store is not reused across such changes.
const scaleSpecVersion = 2 // 2: the import run records its items

// scale fills a store with o.sightings synthetic sightings, then times
// the first history rebuild (a sync of a tiny folder, which must rebuild
// because nothing holds the new sightings yet), plan with its report,
// export and verify against it. The filled store is kept under
// <out>/cache and reused by later runs (minutes saved): each run starts
// from its pristine catalog.
func (b *bench) scale(ctx context.Context) error {
	work := b.path("scale")
	os.RemoveAll(work)
	tiny := filepath.Join(work, "tiny")
	if err := os.MkdirAll(tiny, 0o755); err != nil {
		return err
	}
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(tiny, fmt.Sprintf("note %d.txt", i)), fmt.Appendf(nil, "note %d\n", i), 0o644); err != nil {
			return err
		}
	}
	store, err := b.scaleStore(ctx)
	if err != nil {
		return err
	}
	cfg := filepath.Join(work, "syncd.yaml")
	if err := writeScaleConfig(cfg, store, "", tiny); err != nil {
		return err
	}
	const sec = "store scale"
	n := fmt.Sprintf("%dk sightings", b.o.sightings/1000)
	long := func(c measure.Cmd) measure.Cmd { c.Limit = 2 * b.o.limit; return c }
	first, errs := b.repeat(ctx, 1, []step{{key: "sync", cmd: long(b.syncdCmd("syncd sync (history rebuild)", nil, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn"))}})
	r := row(sec, "first sync after the import: full history rebuild over "+n, "", first, errs, "sync", "", results.Target{})
	b.add(r)
	b.fact("store scale: catalog after the rebuild %s", human(catalogSize(store)))
	if b.scaleOp("postgres") {
		if err := b.scalePostgres(ctx, work, cfg, store, tiny, n, long); err != nil {
			return fmt.Errorf("store scale on PostgreSQL: %w", err)
		}
	}
	spec := scaleSpec(b.o.sightings)
	round := 0
	touch := func() error {
		round++
		st, err := scale.Touch(ctx, store, spec, b.o.sightings/(spec.PerBlob*spec.Versions), round)
		if err == nil {
			b.fact("store scale: touched 1%% of the documents: %d new sightings of %d new versions", st.Sightings, st.Blobs)
		}
		return err
	}
	if b.scaleOp("touch") {
		touched, errs := b.repeat(ctx, 1, []step{{key: "sync", setup: touch, cmd: long(b.syncdCmd("syncd sync (1% of documents touched)", nil, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn"))}})
		b.add(row(sec, "sync that touches 1% of the documents, over "+n, "", touched, errs, "sync", "", results.Target{}))
	}
	if b.scaleOp("daemon") {
		// The daemon IT leaves running: a run after another 1% touch, then
		// its size once idle, the memory it keeps between runs.
		var idle int64
		d, errs := b.repeat(ctx, 1, []step{{key: "daemon", setup: touch, run: b.daemonResync("scale", cfg, nil, &idle)}})
		b.add(row(sec, "daemon run after a 1% touch (syncd run, API trigger), over "+n, "", d, errs, "daemon", "", results.Target{}))
		if errs["daemon"] == nil {
			b.fact("store scale: the daemon's RSS between runs (idle after that run): %s", human(idle))
		}
	}
	planOut, reportOut := filepath.Join(work, "plan"), filepath.Join(work, "report")
	all := []step{
		{key: "plan", setup: resetDir(planOut), cmd: long(b.syncdCmd("syncd plan --out", nil, "plan", "--config", cfg, "--out", planOut, "--log-level", "warn"))},
		// The import is run 1: one item per sighting, the report of a
		// migration of that size.
		{key: "report", setup: resetDir(reportOut), cmd: long(b.syncdCmd("syncd report --out", nil, "report", "--config", cfg, "--run", "1", "--out", reportOut))},
		{key: "export", cmd: long(measure.Cmd{Name: "syncd export", Args: []string{"bash", "-c", fmt.Sprintf("%q export --config %q --format json >/dev/null", b.o.syncd, cfg)}})},
		{key: "verify", cmd: long(b.syncdCmd("syncd verify", nil, "verify", "--config", cfg))},
	}
	var steps []step
	for _, st := range all {
		if b.scaleOp(st.key) {
			steps = append(steps, st)
		}
	}
	s, errs := b.repeat(ctx, b.o.scaleReps, steps)
	for _, r := range []struct{ key, what string }{
		{"plan", "plan with report (report.html, plan.json, CSVs) over "},
		{"report", "report of the import run, one item per sighting (report.html, plan.json, CSVs), over "},
		{"export", "export --format json over "},
		{"verify", "verify (re-hash every blob, check references) over "},
	} {
		if b.scaleOp(r.key) {
			b.add(row(sec, r.what+n, "", s, errs, r.key, "", results.Target{}))
		}
	}
	return os.RemoveAll(work)
}

// scalePostgres copies the store, its history rebuilt, into a private
// PostgreSQL (`syncd store copy`, untimed but reported), then times the
// full history rebuild (`syncd history rebuild --full`) on it beside the
// same on the embedded SQLite catalog.
func (b *bench) scalePostgres(ctx context.Context, work, cfg, store, tiny, n string, long func(measure.Cmd) measure.Cmd) error {
	pg, err := pgtest.Start(true)
	if err != nil {
		return err
	}
	defer pg.Stop()
	dsn, err := pg.CreateDB("scale")
	if err != nil {
		return err
	}
	env := []string{clusterDSNEnv + "=" + dsn}
	pgCfg := filepath.Join(work, "postgres.yaml")
	if err := writeScaleConfig(pgCfg, filepath.Join(work, "pg-store"), fmt.Sprintf("  catalog:\n    postgres: {dsn_env: %s}\n", clusterDSNEnv), tiny); err != nil {
		return err
	}
	copied := func() error {
		start := time.Now()
		c := long(b.syncdCmd("syncd store copy", env, "store", "copy", "--from", store, "--to", pgCfg, "--log-level", "warn"))
		if _, err := measure.Run(ctx, c); err != nil {
			return err
		}
		b.fact("store scale on PostgreSQL: `syncd store copy` of the store (%s, its history rebuilt) into PostgreSQL, verified, took %s", n, time.Since(start).Round(time.Second))
		return nil
	}
	s, errs := b.repeat(ctx, 1, []step{
		{key: "sqlite", cmd: long(b.syncdCmd("syncd history rebuild --full (SQLite)", nil, "history", "rebuild", "--full", "--config", cfg))},
		{key: "postgres", setup: copied, cmd: long(b.syncdCmd("syncd history rebuild --full (PostgreSQL)", env, "history", "rebuild", "--full", "--config", pgCfg))},
	})
	r := row("store scale", "full history rebuild over "+n+" on PostgreSQL", "the same on SQLite", s, errs, "postgres", "sqlite", results.Target{})
	r.Note = "PostgreSQL started privately on this machine with fsync and synchronous commit on; `history rebuild --full` over a catalog whose history is already built, on both"
	b.add(r)
	return nil
}

// writeScaleConfig writes the scale section's config to path: the store
// at store (more store keys in catalog), the job syncing the tiny folder.
func writeScaleConfig(path, store, catalog, tiny string) error {
	text := fmt.Sprintf("store:\n  path: %q\n%sjobs:\n  - name: scale\n    workspace: department\n    sources:\n      - name: tiny\n        type: folder\n        path: %q\n", store, catalog, tiny)
	return os.WriteFile(path, []byte(text), 0o644)
}

// scaleStore returns the store directory holding o.sightings synthetic
// sightings, with its catalog reset to the pristine copy, populating it
// first when no cached copy exists.
func (b *bench) scaleStore(ctx context.Context) (string, error) {
	dir := filepath.Join(abs(b.o.out), "cache", fmt.Sprintf("store-%d-schema%d-v%d", b.o.sightings, workspace.SchemaVersion(), scaleSpecVersion))
	pristine := filepath.Join(dir, "pristine.db")
	catalog := filepath.Join(dir, "catalog.db")
	if _, err := os.Stat(pristine); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
		start := time.Now()
		st, err := scale.Populate(ctx, dir, scaleSpec(b.o.sightings))
		if err != nil {
			return "", err
		}
		if err := snapshot(ctx, catalog, pristine); err != nil {
			return "", err
		}
		b.fact("store scale: %d sightings of %d blobs (%s) in %d documents, written through workspace.Catalog.Commit in %s; catalog %s; kept in %s for later runs",
			st.Sightings, st.Blobs, human(st.BlobBytes), st.Documents, time.Since(start).Round(time.Second), human(catalogSize(dir)), dir)
	} else {
		b.fact("store scale: reusing the populated store in %s (its pristine catalog)", dir)
	}
	for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	return dir, copyFile(pristine, catalog)
}

// scaleOp reports whether -scale-ops names op.
func (b *bench) scaleOp(op string) bool {
	return slices.Contains(strings.Split(b.o.scaleOps, ","), op)
}

// scaleSpec is the store the scale section fills.
func scaleSpec(sightings int) scale.Spec {
	return scale.Spec{Sightings: sightings, PerBlob: 8, Versions: 4, Batch: 5000}
}

func snapshot(ctx context.Context, src, dst string) error {
	cat, err := workspace.Open(ctx, src, workspace.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer cat.Close()
	os.Remove(dst)
	return cat.Snapshot(ctx, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func catalogSize(store string) int64 {
	var n int64
	for _, f := range []string{"catalog.db", "catalog.db-wal"} {
		if fi, err := os.Stat(filepath.Join(store, f)); err == nil {
			n += fi.Size()
		}
	}
	return n
}
