package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

func init() {
	register(command{use: "verify", summary: "re-hash every blob, check catalog references; --gc removes unreferenced blobs", flags: cmdVerify, cleanOutput: true, complete: completeCommon})
}

// verifyReport is what verify found.
type verifyReport struct {
	Blobs, Bytes int64
	Problems     []string
	Orphans      []dedupe.Info
	Removed      int
	Damaged      []damagedBlob
}

// damagedBlob is a catalog blob whose stored bytes are missing or wrong.
type damagedBlob struct {
	ID     dedupe.ID
	Why    string
	Queued int64 // sightings put on their sources' retry lists
}

func cmdVerify(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	gc := fs.Bool("gc", false, "remove blobs no sighting references (left by interrupted runs)")
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		cfg, st, err := c.openExisting(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		// Under the store's maintenance lock: no run is in flight while the
		// store is checked (its blobs and sightings would look unreferenced
		// and unassigned), and none starts until verify is done.
		var rep verifyReport
		err = st.engine(c.logger(cfg, stderr)).Maintain(ctx, func(jobs []workspace.LockInfo) {
			for _, j := range jobs {
				fmt.Fprintf(stderr, "waiting for %s (%s) to finish before verifying\n", termSafe(strings.TrimPrefix(j.Name, "job:")), termSafe(j.Holder))
			}
		}, func(ctx context.Context) error {
			var err error
			rep, err = verifyStore(ctx, st, *gc)
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "verified %d blobs (%s)\n", rep.Blobs, humanBytes(rep.Bytes))
		for _, d := range rep.Damaged {
			fmt.Fprintf(stdout, "damaged blob %s: %s; %d sightings queued to be fetched again by the next sync\n", d.ID, d.Why, d.Queued)
		}
		for _, o := range rep.Orphans {
			fmt.Fprintf(stdout, "unreferenced blob %s (%s)\n", o.ID, humanBytes(o.Size))
		}
		if *gc {
			fmt.Fprintf(stdout, "removed %d unreferenced blobs\n", rep.Removed)
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, "problem:", p)
		}
		if len(rep.Problems) > 0 || (len(rep.Orphans) > 0 && !*gc) {
			return fmt.Errorf("%w: %d problems, %d unreferenced blobs", errProblems, len(rep.Problems), len(rep.Orphans))
		}
		fmt.Fprintln(stdout, "store is consistent")
		return nil
	}
}

// verifyStore re-hashes every blob file, checks that every catalog blob
// exists with the right size, and finds blobs nothing refers to.
func verifyStore(ctx context.Context, st *store, gc bool) (verifyReport, error) {
	var rep verifyReport
	probs, err := st.cat.Check(ctx)
	if err != nil {
		return rep, err
	}
	rep.Problems = probs
	inCatalog := map[dedupe.ID]workspace.BlobRecord{}
	err = st.cat.EachBlob(ctx, func(b workspace.BlobRecord) error {
		inCatalog[b.Sums.ID] = b
		return nil
	})
	if err != nil {
		return rep, err
	}
	onDisk := map[dedupe.ID]bool{}
	err = st.blobs.Walk(ctx, func(in dedupe.Info) error {
		onDisk[in.ID] = true
		rep.Blobs++
		rep.Bytes += in.Size
		rc, err := st.blobs.Open(ctx, in.ID)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: %v", in.ID, err))
			return nil
		}
		sums, err := dedupe.HashReader(rc)
		rc.Close()
		switch {
		case err != nil && !errors.Is(err, dedupe.ErrCorrupt):
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: read: %v", in.ID, err))
		case sums.ID != in.ID:
			why := fmt.Sprintf("%v (content hashes to %s)", dedupe.ErrCorrupt, sums.ID)
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: %s", in.ID, why))
			if rec, ok := inCatalog[in.ID]; ok && rec.Refs > 0 {
				// Moved aside, so the content can be stored whole again.
				where, err := st.blobs.Quarantine(ctx, in.ID)
				if err != nil {
					return err
				}
				delete(onDisk, in.ID)
				return markDamaged(ctx, st, &rep, in.ID, why+"; the bytes are kept in "+where)
			}
		}
		rec, ok := inCatalog[in.ID]
		if !ok || rec.Refs == 0 {
			rep.Orphans = append(rep.Orphans, in)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	missing := []dedupe.ID{}
	for id, rec := range inCatalog {
		if !onDisk[id] && rec.Refs > 0 && !rec.Damaged {
			missing = append(missing, id)
		}
	}
	slices.SortFunc(missing, func(a, b dedupe.ID) int { return strings.Compare(a.String(), b.String()) })
	for _, id := range missing {
		why := fmt.Sprintf("in the catalog (%d sightings) but missing from the blob store", inCatalog[id].Refs)
		rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: %s", id, why))
		if err := markDamaged(ctx, st, &rep, id, why); err != nil {
			return rep, err
		}
	}
	if gc {
		for _, o := range rep.Orphans {
			if err := st.blobs.Remove(ctx, o.ID); err != nil {
				return rep, err
			}
			if _, ok := inCatalog[o.ID]; ok {
				if err := st.cat.RemoveBlobRow(ctx, o.ID); err != nil {
					return rep, err
				}
			}
			rep.Removed++
		}
		if _, err := st.blobs.CleanTemp(ctx, time.Hour); err != nil {
			return rep, err
		}
		if err := st.cat.Audit(ctx, "syncd", "verify.gc", "", fmt.Sprintf("removed %d unreferenced blobs", rep.Removed)); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// markDamaged records a damaged blob in the catalog and queues its
// sightings to be fetched again.
func markDamaged(ctx context.Context, st *store, rep *verifyReport, id dedupe.ID, why string) error {
	n, err := st.cat.MarkDamaged(ctx, id, why)
	if err != nil {
		return err
	}
	rep.Damaged = append(rep.Damaged, damagedBlob{ID: id, Why: why, Queued: n})
	return nil
}
