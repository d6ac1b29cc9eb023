package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/workspace"
)

func init() {
	register(command{use: "report", summary: "render the plan-style report (HTML, JSON, CSV) of a past run", flags: cmdReport, complete: completeReport})
}

func cmdReport(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	runID := fs.Int64("run", 0, "run `id` (see 'syncd runs'; default: the latest run)")
	job := fs.String("job", "", "with no --run: the latest run of this job")
	out := fs.String("out", "", "write report.html, plan.json, items.csv and documents.csv to this `dir`")
	format := fs.String("format", "", "write one file to stdout: html, json, csv (items) or documents-csv")
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		if *out == "" && *format == "" {
			return usagef("give --out DIR or --format FORMAT")
		}
		cfg, err := c.load()
		if err != nil {
			return err
		}
		cat, err := openCatalog(ctx, cfg.Store, workspace.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer cat.Close()
		run, err := pickRun(ctx, cat, *runID, *job)
		if err != nil {
			return err
		}
		r, err := report.Build(ctx, cat, []report.Run{report.FromStored(run)})
		if err != nil {
			return err
		}
		return emitReport(r, *out, *format, stdout, stderr)
	}
}

// pickRun returns run id, or the latest run (of job, if given).
func pickRun(ctx context.Context, cat *workspace.Catalog, id int64, job string) (workspace.Run, error) {
	if id != 0 {
		return cat.GetRun(ctx, id)
	}
	runs, err := cat.Runs(ctx, job, 1)
	if err != nil {
		return workspace.Run{}, err
	}
	if len(runs) == 0 {
		return workspace.Run{}, usagef("no runs recorded yet")
	}
	return runs[0], nil
}
