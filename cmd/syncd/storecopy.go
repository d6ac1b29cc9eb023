package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

func init() {
	register(command{
		use:     "store copy --from STORE --to STORE",
		summary: "copy a whole store (catalog and blobs) into a new one, e.g. an embedded store into a cluster store",
		long: `Copy a whole store (catalog and blobs) into a new one: an embedded store
(SQLite and a folder) into a cluster store (PostgreSQL and object storage),
or back. STORE is a config file (its store: section) or an embedded
store's directory.

The copy runs under both stores' maintenance locks (no run writes to
either meanwhile). Blobs are copied first, each written once under its
content key and checked against it; the catalog is then copied in one
transaction. Run it again after an interruption: blobs already there are
skipped, and a catalog already copied from the same source is kept. At the
end the destination is verified (every blob re-read and hashed, every
catalog blob present) and its totals compared with the source's.`,
		args:  cobra.ExactArgs(1),
		flags: cmdStore,
	})
}

func cmdStore(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	from := fs.String("from", "", "the store to copy: a config `file` or an embedded store's directory")
	to := fs.String("to", "", "the new store: a config `file` or a directory for an embedded store")
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if args[0] != "copy" {
			return usagef("unknown store command %q (want: copy)", args[0])
		}
		if *from == "" || *to == "" {
			return usagef("give --from STORE and --to STORE")
		}
		src, err := storeConfigOf(*from, true)
		if err != nil {
			return err
		}
		dst, err := storeConfigOf(*to, false)
		if err != nil {
			return err
		}
		log := c.logger(nil, stderr)
		rep, err := copyStore(ctx, src, dst, func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }, log)
		if err != nil {
			return err
		}
		if len(rep.Problems) > 0 {
			for _, p := range rep.Problems {
				fmt.Fprintln(stdout, "problem:", p)
			}
			return fmt.Errorf("%w: %d problems", errProblems, len(rep.Problems))
		}
		fmt.Fprintln(stdout, "copy verified: the new store is consistent and holds what the source holds")
		return nil
	}
}

// storeConfigOf reads STORE: a config file's store section, or an embedded
// store's directory (which must hold a catalog when it is the source).
func storeConfigOf(arg string, source bool) (engine.StoreConfig, error) {
	fi, err := os.Stat(arg)
	switch {
	case err == nil && fi.IsDir(), errors.Is(err, os.ErrNotExist) && !source:
		abs, err := filepath.Abs(arg)
		if err != nil {
			return engine.StoreConfig{}, err
		}
		sc := engine.StoreConfig{Path: abs}
		if source && !catalogExists(sc) {
			return sc, usagef("no store at %s (no catalog.db)", arg)
		}
		return sc, nil
	case err != nil:
		return engine.StoreConfig{}, usagef("%v", err)
	}
	cfg, err := engine.LoadConfig(arg)
	if err != nil {
		return engine.StoreConfig{}, usageError{err}
	}
	if source && !catalogExists(cfg.Store) {
		return cfg.Store, usagef("no store at %s (no catalog.db)", cfg.Store.Path)
	}
	return cfg.Store, nil
}

// copyReport is what a store copy did.
type copyReport struct {
	Blobs, Skipped int64 // blobs copied, blobs the destination had
	Bytes          int64 // bytes copied
	Problems       []string
}

// copyStore copies the store src into dst (see the command's help).
func copyStore(ctx context.Context, srcCfg, dstCfg engine.StoreConfig, say func(string, ...any), log *slog.Logger) (copyReport, error) {
	var rep copyReport
	src, err := openStore(ctx, srcCfg)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	dst, err := openStore(ctx, dstCfg)
	if err != nil {
		return rep, err
	}
	defer dst.Close()
	if src.cat.Path() == dst.cat.Path() {
		return rep, usagef("--from and --to name the same catalog (%s)", src.cat.Path())
	}
	waiting := func(jobs []workspace.LockInfo) {
		for _, j := range jobs {
			say("waiting for %s (%s) to finish before copying", termSafe(j.Name), termSafe(j.Holder))
		}
	}
	err = src.engine(log).Maintain(ctx, waiting, func(ctx context.Context) error {
		return dst.engine(log).Maintain(ctx, waiting, func(ctx context.Context) error {
			// 1. The blobs the source's catalog knows.
			if err := copyBlobs(ctx, src, dst, src.cat, &rep, log); err != nil {
				return err
			}
			say("blobs: %d copied (%s), %d already there", rep.Blobs, humanBytes(rep.Bytes), rep.Skipped)
			// 2. The catalog, in one transaction, unless an earlier run of
			// this copy did it.
			done, err := dst.cat.CopiedFrom(ctx, src.cat.Path())
			if err != nil {
				return err
			}
			if done {
				say("catalog: already copied from %s", src.cat.Path())
			} else {
				log.Info("copying the catalog", "from", src.cat.Path(), "to", dst.cat.Path())
				if err := dst.cat.CopyFrom(ctx, src.cat, "syncd store copy ("+engine.HolderID()+")"); err != nil {
					if errors.Is(err, workspace.ErrNotEmpty) {
						return usageError{err}
					}
					return err
				}
				say("catalog: copied from %s to %s", src.cat.Path(), dst.cat.Path())
			}
			// 3. Blobs the copied catalog names that step 1 did not see
			// (none unless the source changed in between).
			before := rep.Blobs
			if err := copyBlobs(ctx, src, dst, dst.cat, &rep, log); err != nil {
				return err
			}
			if n := rep.Blobs - before; n > 0 {
				say("blobs: %d more copied", n)
			}
			// 4. Verify the destination and compare totals.
			vr, err := verifyStore(ctx, dst, false)
			if err != nil {
				return err
			}
			say("verified %d blobs (%s) in the new store", vr.Blobs, humanBytes(vr.Bytes))
			rep.Problems = append(rep.Problems, vr.Problems...)
			for _, o := range vr.Orphans {
				rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s in the new store belongs to no sighting", o.ID))
			}
			ss, err := src.cat.Stats(ctx)
			if err != nil {
				return err
			}
			ds, err := dst.cat.Stats(ctx)
			if err != nil {
				return err
			}
			if ss != ds {
				rep.Problems = append(rep.Problems, fmt.Sprintf("totals differ: source %+v, copy %+v", ss, ds))
			}
			return nil
		})
	})
	return rep, err
}

// copyBlobs copies every blob the catalog cat lists that dst lacks, from
// src: each is checked against its content key as it is written.
func copyBlobs(ctx context.Context, src, dst *store, cat *workspace.Catalog, rep *copyReport, log *slog.Logger) error {
	return cat.EachBlob(ctx, func(b workspace.BlobRecord) error {
		id := b.Sums.ID
		if b.Damaged {
			return nil // nothing whole to copy; a sync fetches it again
		}
		have, err := dst.blobs.Has(ctx, id)
		if err != nil {
			return fmt.Errorf("new store: blob %s: %w", id, err)
		}
		if have {
			rep.Skipped++
			return nil
		}
		rc, err := src.blobs.Open(ctx, id)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: cannot read it from the source: %v", id, err))
			return nil
		}
		// Checked as it is read: a damaged source blob fails its Put,
		// which then stores nothing.
		vr := dedupe.NewVerifier(ctx, rc, id)
		sums, err := dst.blobs.Put(ctx, vr)
		vr.Close()
		switch rerr := vr.Err(); {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(rerr, dedupe.ErrCorrupt):
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: damaged in the source (%v); run 'syncd verify' there", id, dedupe.ErrCorrupt))
			return nil
		case rerr != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: cannot read it from the source: %v", id, rerr))
			return nil
		case err != nil:
			return fmt.Errorf("new store: blob %s: %w", id, err)
		case sums.ID != id:
			return fmt.Errorf("new store: blob %s stored as %s", id, sums.ID)
		}
		rep.Blobs++
		rep.Bytes += sums.Size
		log.Debug("blob copied", "blob", id.String(), "size", sums.Size)
		return nil
	})
}
