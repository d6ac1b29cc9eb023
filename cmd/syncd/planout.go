package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/workspace"
)

// reportFormats are the values of --format.
var reportFormats = []string{report.FormatHTML, report.FormatJSON, report.FormatCSV, report.FormatDocuments}

// checkFormat validates --format ("" means none).
func checkFormat(format string) error {
	if format != "" && !slices.Contains(reportFormats, format) {
		return usagef("--format %q: want one of %v", format, reportFormats)
	}
	return nil
}

// buildReport makes the report of results, whose runs cat recorded.
func buildReport(ctx context.Context, cat *workspace.Catalog, results []*engine.Result) (*report.Report, error) {
	runs := make([]report.Run, 0, len(results))
	for _, r := range results {
		stored, err := cat.GetRun(ctx, r.RunID)
		if err != nil {
			return nil, err
		}
		runs = append(runs, report.FromResult(r, stored.Mode))
	}
	return report.Build(ctx, cat, runs)
}

// writePlan writes report.html, plan.json, items.csv and documents.csv for
// the runs in results into dir.
func writePlan(ctx context.Context, cat *workspace.Catalog, results []*engine.Result, dir string) error {
	r, err := buildReport(ctx, cat, results)
	if err != nil {
		return err
	}
	return report.WriteDir(dir, r)
}

// emitPlan writes the plan where the flags say: every file into out, and
// one format to stdout.
func emitPlan(ctx context.Context, cat *workspace.Catalog, results []*engine.Result, out, format string, stdout, stderr io.Writer) error {
	if out == "" && format == "" {
		return nil
	}
	r, err := buildReport(ctx, cat, results)
	if err != nil {
		return err
	}
	return emitReport(r, out, format, stdout, stderr)
}

func emitReport(r *report.Report, out, format string, stdout, stderr io.Writer) error {
	if out != "" {
		if err := report.WriteDir(out, r); err != nil {
			return err
		}
		msg := stdout
		if format != "" {
			msg = stderr // stdout carries the report
		}
		fmt.Fprintf(msg, "%s written to %s (%s, %s, %s, %s)\n", r.Kind, out, report.FileHTML, report.FileJSON, report.FileItems, report.FileDocuments)
	}
	if format != "" {
		return report.Write(stdout, r, format)
	}
	return nil
}
