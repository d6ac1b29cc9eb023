package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/syncd/syncd/bench/internal/measure"
	"github.com/syncd/syncd/bench/internal/results"
	"github.com/syncd/syncd/bench/internal/scale"
)

// scale fills a store with o.sightings synthetic sightings, then times
// the first history rebuild (a sync of a tiny folder, which must rebuild
// because nothing holds the new sightings yet), plan with its report,
// export and verify against it.
func (b *bench) scale(ctx context.Context) error {
	work := b.path("scale")
	os.RemoveAll(work)
	store := filepath.Join(work, "store")
	tiny := filepath.Join(work, "tiny")
	if err := os.MkdirAll(tiny, 0o755); err != nil {
		return err
	}
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(tiny, fmt.Sprintf("note %d.txt", i)), fmt.Appendf(nil, "note %d\n", i), 0o644); err != nil {
			return err
		}
	}
	cfg := filepath.Join(work, "syncd.yaml")
	text := fmt.Sprintf("store:\n  path: %q\njobs:\n  - name: scale\n    workspace: department\n    sources:\n      - name: tiny\n        type: folder\n        path: %q\n", store, tiny)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return err
	}
	start := time.Now()
	st, err := scale.Populate(ctx, store, scale.Spec{Sightings: b.o.sightings, PerBlob: 8, Versions: 4, Batch: 5000})
	if err != nil {
		return err
	}
	b.fact("store scale: %d sightings of %d blobs (%s) in %d documents, written through workspace.Catalog.Commit in %s; catalog %s",
		st.Sightings, st.Blobs, human(st.BlobBytes), st.Documents, time.Since(start).Round(time.Second), human(catalogSize(store)))
	const sec = "store scale"
	n := fmt.Sprintf("%dk sightings", b.o.sightings/1000)
	long := func(c measure.Cmd) measure.Cmd { c.Limit = 2 * b.o.limit; return c }
	first, errs := b.repeat(ctx, 1, []step{{key: "sync", cmd: long(b.syncdCmd("syncd sync (history rebuild)", nil, "sync", "--config", cfg, "--progress", "none", "--log-level", "warn"))}})
	r := row(sec, "first sync after the import: full history rebuild over "+n, "", first, errs, "sync", "", results.Target{})
	b.add(r)
	b.fact("store scale: catalog after the rebuild %s", human(catalogSize(store)))
	planOut := filepath.Join(work, "plan")
	steps := []step{
		{key: "plan", setup: resetDir(planOut), cmd: long(b.syncdCmd("syncd plan --out", nil, "plan", "--config", cfg, "--out", planOut, "--log-level", "warn"))},
		{key: "export", cmd: long(measure.Cmd{Name: "syncd export", Args: []string{"bash", "-c", fmt.Sprintf("%q export --config %q --format json >/dev/null", b.o.syncd, cfg)}})},
		{key: "verify", cmd: long(b.syncdCmd("syncd verify", nil, "verify", "--config", cfg))},
	}
	s, errs := b.repeat(ctx, b.o.scaleReps, steps)
	b.add(row(sec, "plan with report (report.html, plan.json, CSVs) over "+n, "", s, errs, "plan", "", results.Target{}))
	b.add(row(sec, "export --format json over "+n, "", s, errs, "export", "", results.Target{}))
	b.add(row(sec, "verify (re-hash every blob, check references) over "+n, "", s, errs, "verify", "", results.Target{}))
	if !b.o.keep {
		os.RemoveAll(work)
	}
	return nil
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
