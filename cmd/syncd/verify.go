package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

func init() {
	register("verify", "re-hash every blob, check catalog references; --gc removes unreferenced blobs", cmdVerify)
}

// verifyReport is what verify found.
type verifyReport struct {
	Blobs, Bytes int64
	Problems     []string
	Orphans      []dedupe.Info
	Removed      int
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	var c common
	c.bind(fs)
	gc := fs.Bool("gc", false, "remove blobs no sighting references (left by interrupted runs)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, st, err := c.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := verifyStore(ctx, st, *gc)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "verified %d blobs (%s)\n", rep.Blobs, humanBytes(rep.Bytes))
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
		case err != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: read: %v", in.ID, err))
		case sums.ID != in.ID:
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: %v (content hashes to %s)", in.ID, dedupe.ErrCorrupt, sums.ID))
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
	for id, rec := range inCatalog {
		if !onDisk[id] && rec.Refs > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("blob %s: in the catalog (%d sightings) but missing from the blob store", id, rec.Refs))
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
		if _, err := st.blobs.CleanTemp(time.Hour); err != nil {
			return rep, err
		}
		if err := st.cat.Audit(ctx, "syncd", "verify.gc", "", fmt.Sprintf("removed %d unreferenced blobs", rep.Removed)); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
