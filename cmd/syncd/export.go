package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/syncd/syncd/engine"
)

func init() {
	register(command{use: "export", summary: "export history: --format json (eval contract) or tree --to DIR", flags: cmdExport, complete: completeExport})
}

func cmdExport(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	format := fs.String("format", "json", "json (documents, versions, sightings) or tree (folders a person can open)")
	to := fs.String("to", "", "with --format tree: the `dir` to write into")
	return func(ctx context.Context, _ []string, stdout, _ io.Writer) error {
		_, st, err := c.openExisting(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		switch *format {
		case "json":
			return engine.ExportJSON(ctx, st.cat, stdout)
		case "tree":
			if *to == "" {
				return usagef("--format tree needs --to DIR")
			}
			ts, err := engine.ExportTree(ctx, st.cat, st.blobs, *to)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "exported %d files to %s (%d written, %d unchanged, %d removed, %d kept aside)\n",
				ts.Files, termSafe(*to), ts.Written, ts.Unchanged, ts.Removed, ts.Kept)
			if ts.Kept > 0 {
				fmt.Fprintf(stdout, "files in the way that the export did not write were moved under %s\n", termSafe(filepath.Join(*to, engine.KeptDir)))
			}
			for _, p := range ts.Problems {
				fmt.Fprintf(stdout, "problem: %s\n", termSafe(p))
			}
			if len(ts.Problems) > 0 {
				return fmt.Errorf("%d of %d files not exported: %w", len(ts.Problems), len(ts.Problems)+ts.Files, errProblems)
			}
			return nil
		default:
			return usagef("unknown --format %q (json or tree)", *format)
		}
	}
}
