package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/syncd/syncd/workspace"
)

func init() {
	register(command{use: "runs", summary: "list run records: counts, bytes, throttling and problems", flags: cmdRuns, cleanOutput: true, complete: completeJobs})
}

// runRecord is a run with its problems (item + reason), for `syncd runs`
// and /api/v1/runs.
type runRecord struct {
	workspace.Run
	Problems      []runProblem `json:"problems,omitempty"`
	ProblemsTotal int          `json:"problems_total"`
	// Gone: copies the run found no longer at their source (the store
	// keeps them); Reason says how they went.
	Gone      []runProblem `json:"gone,omitempty"`
	GoneTotal int          `json:"gone_total"`
}

// runProblem is one item a run could not handle.
type runProblem struct {
	Source string `json:"source"`
	Ref    string `json:"ref"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// listRuns returns runs newest first, each with up to maxProblems problems.
func listRuns(ctx context.Context, cat *workspace.Catalog, job string, limit, maxProblems int) ([]runRecord, error) {
	runs, err := cat.Runs(ctx, job, limit)
	if err != nil {
		return nil, err
	}
	out := make([]runRecord, 0, len(runs))
	for _, r := range runs {
		rec, err := withProblems(ctx, cat, r, maxProblems)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func getRun(ctx context.Context, cat *workspace.Catalog, id int64, maxProblems int) (runRecord, error) {
	r, err := cat.GetRun(ctx, id)
	if err != nil {
		return runRecord{}, err
	}
	return withProblems(ctx, cat, r, maxProblems)
}

// withProblems reads a run's problem and gone items straight from
// run_items, so a large run's other items are never loaded.
func withProblems(ctx context.Context, cat *workspace.Catalog, r workspace.Run, max int) (runRecord, error) {
	rec := runRecord{Run: r}
	var err error
	if rec.Problems, rec.ProblemsTotal, err = runItemsOf(ctx, cat, r.ID, "problem", max); err != nil {
		return rec, err
	}
	rec.Gone, rec.GoneTotal, err = runItemsOf(ctx, cat, r.ID, "gone", max)
	return rec, err
}

// runItemsOf returns up to max of a run's items with one action, and how
// many there are.
func runItemsOf(ctx context.Context, cat *workspace.Catalog, run int64, action string, max int) ([]runProblem, int, error) {
	db := cat.DB()
	var total int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM run_items WHERE run_id = ? AND action = ?`, run, action).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("run %d: %s items: %w", run, action, err)
	}
	if max <= 0 || total == 0 {
		return nil, total, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT source, ref, name, reason, detail FROM run_items WHERE run_id = ? AND action = ? ORDER BY source, ref, reason, detail, rowid LIMIT ?`, run, action, max)
	if err != nil {
		return nil, 0, fmt.Errorf("run %d: %s items: %w", run, action, err)
	}
	defer rows.Close()
	var out []runProblem
	for rows.Next() {
		var p runProblem
		if err := rows.Scan(&p.Source, &p.Ref, &p.Name, &p.Reason, &p.Detail); err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

func cmdRuns(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	job := fs.String("job", "", "only this job's runs")
	limit := fs.Int("limit", 20, "show at most this many runs")
	asJSON := fs.Bool("json", false, "print JSON")
	problems := fs.Int("problems", 10, "list at most this many problems per run")
	return func(ctx context.Context, _ []string, stdout, _ io.Writer) error {
		cfg, err := c.load()
		if err != nil {
			return err
		}
		if !catalogExists(cfg.Store) {
			fmt.Fprintf(stdout, "no runs yet: no store at %s\n", cfg.Store.Path)
			return nil
		}
		cat, err := openCatalog(ctx, cfg.Store, workspace.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer cat.Close()
		runs, err := listRuns(ctx, cat, *job, *limit, *problems)
		if err != nil {
			return err
		}
		retries, err := pendingRetries(ctx, cat, *problems)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"runs": runs, "retries": retries})
		}
		printRuns(stdout, runs)
		printRetries(stdout, retries)
		return nil
	}
}

// retryList is the store's retry list: items a run could not store, which
// the next run of their source asks for again.
type retryList struct {
	Total int64             `json:"total"`
	Items []workspace.Retry `json:"items"`
}

// pendingRetries reads the retry list, at most max items of it.
func pendingRetries(ctx context.Context, cat *workspace.Catalog, max int) (retryList, error) {
	out := retryList{Items: []workspace.Retry{}}
	per, err := cat.PendingRetries(ctx)
	if err != nil {
		return out, err
	}
	sources := make([]string, 0, len(per))
	for s, n := range per {
		out.Total += n
		sources = append(sources, s)
	}
	slices.Sort(sources)
	for _, s := range sources {
		if len(out.Items) >= max {
			break
		}
		list, err := cat.Retries(ctx, s)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, list[:min(len(list), max-len(out.Items))]...)
	}
	return out, nil
}

func printRetries(w io.Writer, r retryList) {
	if r.Total == 0 {
		return
	}
	fmt.Fprintf(w, "\npending retries (%d): the next run of each source asks for these again\n", r.Total)
	for _, it := range r.Items {
		fmt.Fprintf(w, "  %s: %s: %s (%d attempts): %s\n", it.Source, orDash(it.Ref), it.Reason, it.Attempts, strings.TrimSpace(it.Detail))
	}
	if more := r.Total - int64(len(r.Items)); more > 0 {
		fmt.Fprintf(w, "  ... and %d more (syncd runs --problems N)\n", more)
	}
}

func printRuns(w io.Writer, runs []runRecord) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tJOB\tMODE\tSTATUS\tSTARTED\tDURATION\tSCANNED\tNEW\tDUP\tSKIPPED\tPROBLEMS\tRETRIES\tFETCHED\tTHROTTLED\t")
	for _, r := range runs {
		dur := "-"
		if !r.Finished.IsZero() {
			dur = r.Finished.Sub(r.Started).Round(time.Second).String()
		}
		c := r.Counts
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t\n", r.ID, r.Job, r.Mode, r.Status,
			r.Started.Local().Format("2006-01-02 15:04:05"), dur, c.Scanned, c.New, c.Duplicate, c.Skipped,
			r.ProblemsTotal, c.RetriesPending, humanBytes(c.BytesFetched), c.Source.Throttled)
	}
	tw.Flush()
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(w, "\nrun %d (%s) error: %s\n", r.ID, r.Job, r.Error)
		}
		if len(r.Gone) > 0 {
			fmt.Fprintf(w, "\nrun %d (%s) no longer at the source (%d; the store keeps them):\n", r.ID, r.Job, r.GoneTotal)
			for _, g := range r.Gone {
				fmt.Fprintf(w, "  %s: %s: %s\n", g.Source, g.Name, g.Reason)
			}
			if more := r.GoneTotal - len(r.Gone); more > 0 {
				fmt.Fprintf(w, "  ... and %d more (syncd runs --problems N)\n", more)
			}
		}
		if len(r.Problems) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nrun %d (%s) problems (%d):\n", r.ID, r.Job, r.ProblemsTotal)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s: %s: %s: %s\n", p.Source, orDash(p.Ref), p.Reason, strings.TrimSpace(p.Detail))
		}
		if more := r.ProblemsTotal - len(r.Problems); more > 0 {
			fmt.Fprintf(w, "  ... and %d more (syncd runs --problems N)\n", more)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
