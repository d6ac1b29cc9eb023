package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

func init() {
	register(command{use: "sync", summary: "run jobs once: scan, fetch what is new, rebuild history", flags: cmdSync, complete: completeSync})
	register(command{use: "plan", summary: "dry run: show what sync would do, changing nothing", flags: cmdPlan, complete: completePlan})
}

func cmdSync(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	job := fs.String("job", "", "run only this job (default: all jobs)")
	progressMode := fs.String("progress", progressAuto, "live progress: auto (bars on a terminal, log lines otherwise), bar, log or none")
	progressEvery := fs.Duration("progress-every", 10*time.Second, "interval of progress log lines")
	join := fs.Bool("join", false, "if another process runs the job, help its run (take sources it has not started) instead of exiting 3")
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		cfg, err := c.loadForSources()
		if err != nil {
			return err
		}
		prog, err := newProgress(*progressMode, stderr, *progressEvery)
		if err != nil {
			return usageError{err}
		}
		defer prog.Stop()
		jobs, err := jobsToRun(cfg, *job)
		if err != nil {
			return err
		}
		st, err := openStore(ctx, cfg.Store)
		if err != nil {
			return err
		}
		st.keyCap = cfg.History.KeyCap
		st.cat.SetIndexCache(cfg.Store.CacheMB)
		defer st.Close()
		if prog.Bars() && c.logFormat == "auto" && cfg.Log.Format == "" {
			c.logFormat = "text" // log lines print above the bars
		}
		log := c.logger(cfg, prog.LogWriter())
		prog.SetLogger(log)
		eng := st.engine(log)
		eng.Observer = prog
		eng.Join = *join
		results, err := runJobs(ctx, eng, cfg, jobs)
		prog.Stop()
		printSummary(stdout, results)
		if err != nil {
			return err
		}
		return problemsErr(results)
	}
}

func runJobs(ctx context.Context, eng *engine.Engine, cfg *engine.Config, jobs []*engine.Job) ([]*engine.Result, error) {
	var out []*engine.Result
	for _, j := range jobs {
		res, err := eng.RunJob(ctx, cfg.File, j)
		if res != nil {
			out = append(out, res)
		}
		if err != nil {
			return out, fmt.Errorf("job %s: %w", j.Name, err)
		}
	}
	return out, nil
}

func problemsErr(results []*engine.Result) error {
	for _, r := range results {
		if r.Status != workspace.StatusOK {
			return fmt.Errorf("%w: job %s status %s (see 'syncd runs' and the run's problems)", errProblems, r.Job, r.Status)
		}
	}
	return nil
}

// summaryColumns are the columns of the end-of-run table, named as in the
// run record.
var summaryColumns = []struct {
	name  string
	bytes bool
	value func(*workspace.Counts) int64
}{
	{"scanned", false, func(c *workspace.Counts) int64 { return c.Scanned }},
	{"known", false, func(c *workspace.Counts) int64 { return c.Known }},
	{"new", false, func(c *workspace.Counts) int64 { return c.New }},
	{"duplicate", false, func(c *workspace.Counts) int64 { return c.Duplicate }},
	{"hash_hits", false, func(c *workspace.Counts) int64 { return c.HashHits }},
	{"skipped", false, func(c *workspace.Counts) int64 { return c.Skipped }},
	{"problems", false, func(c *workspace.Counts) int64 { return c.Problems }},
	{"bytes_fetched", true, func(c *workspace.Counts) int64 { return c.BytesFetched }},
	{"bytes_saved", true, func(c *workspace.Counts) int64 { return c.BytesSaved }},
}

func printSummary(w io.Writer, results []*engine.Result) {
	if len(results) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := make([]string, len(summaryColumns))
	for i, col := range summaryColumns {
		head[i] = col.name
	}
	fmt.Fprintln(tw, "job\tsource\t"+strings.Join(head, "\t")+"\tstatus\t")
	for _, r := range results {
		for _, s := range r.Sources {
			st := "ok"
			if s.Err != "" {
				st = "failed"
			} else if s.Counts.Problems > 0 {
				st = "problems"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", termSafe(r.Job), termSafe(s.Name), countsRow(s.Counts), st)
		}
		all := fmt.Sprintf("(all, run %d)", r.RunID)
		if r.Joined != "" {
			all = fmt.Sprintf("(this process, run %d)", r.RunID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", termSafe(r.Job), all, countsRow(r.Counts), r.Status)
	}
	tw.Flush()
	for _, r := range results {
		if r.Joined != "" {
			fmt.Fprintf(w, "job %s: helped run %d of %s (it rebuilds the history and finishes the run)\n", termSafe(r.Job), r.RunID, termSafe(r.Joined))
		}
		for _, s := range r.Sources {
			if s.Worker != "" {
				fmt.Fprintf(w, "source %s: run by %s\n", termSafe(s.Name), termSafe(s.Worker))
			}
		}
	}
	for _, r := range results {
		for _, s := range r.Sources {
			if s.Err != "" {
				fmt.Fprintf(w, "source %s: %s\n", termSafe(s.Name), termSafe(s.Err))
			}
		}
	}
}

func countsRow(c workspace.Counts) string {
	parts := make([]string, len(summaryColumns))
	for i, col := range summaryColumns {
		if v := col.value(&c); col.bytes {
			parts[i] = humanBytes(v)
		} else {
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "\t")
}

// planStore is a scratch copy of the store's catalog over a hash-only blob
// sink: the plan runs the real pipeline against it and the real store is
// never written.
type planStore struct {
	cat     *workspace.Catalog
	sink    dedupe.BlobStore
	scratch string
}

func openPlanStore(ctx context.Context, sc engine.StoreConfig) (*planStore, error) {
	dir := sc.Path
	scratch, err := os.MkdirTemp("", "syncd-plan-")
	if err != nil {
		return nil, err
	}
	dst := filepath.Join(scratch, "catalog.db")
	if !onPostgres(sc) && exists(catalogPath(dir)) {
		src, err := workspace.Open(ctx, catalogPath(dir), workspace.Options{ReadOnly: true})
		if err != nil {
			os.RemoveAll(scratch)
			return nil, storeErr(err)
		}
		err = src.Snapshot(ctx, dst)
		src.Close()
		if err != nil {
			os.RemoveAll(scratch)
			return nil, err
		}
	}
	cat, err := workspace.Open(ctx, dst, workspace.Options{})
	if err != nil {
		os.RemoveAll(scratch)
		return nil, err
	}
	if onPostgres(sc) {
		// A catalog on a server: the scratch copy is an embedded one
		// holding the same rows, read from one snapshot.
		err := func() error {
			src, err := openCatalog(ctx, sc, workspace.Options{ReadOnly: true})
			if err != nil {
				return err
			}
			defer src.Close()
			return cat.CopyFrom(ctx, src, "syncd plan")
		}()
		if err != nil {
			cat.Close()
			os.RemoveAll(scratch)
			return nil, err
		}
	}
	var real dedupe.BlobStore = dedupe.NewMem()
	if sc.Blobs != nil || exists(filepath.Join(dir, "blobs")) {
		b, err := openBlobs(ctx, sc)
		if err != nil {
			cat.Close()
			os.RemoveAll(scratch)
			return nil, err
		}
		real = readOnlyBlobs{b}
	}
	return &planStore{cat: cat, sink: dedupe.HashOnly{Real: real}, scratch: scratch}, nil
}

func (p *planStore) Close() error {
	err := p.cat.Close()
	if ro, ok := p.sink.(dedupe.HashOnly).Real.(readOnlyBlobs); ok {
		if cerr := ro.Close(); err == nil {
			err = cerr
		}
	}
	os.RemoveAll(p.scratch)
	return err
}

// readOnlyBlobs refuses writes, so a plan cannot touch the blob directory.
type readOnlyBlobs struct{ blobStore }

func (r readOnlyBlobs) Put(context.Context, io.Reader) (dedupe.Sums, error) {
	return dedupe.Sums{}, errors.New("blob store is read-only during a plan")
}

func cmdPlan(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	job := fs.String("job", "", "plan only this job (default: all jobs)")
	out := fs.String("out", "", "write the plan (report.html, plan.json, CSVs) to this `dir`")
	format := fs.String("format", "", "write one file of the plan to stdout: html, json, csv (items) or documents-csv")
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		cfg, err := c.loadForSources()
		if err != nil {
			return err
		}
		jobs, err := jobsToRun(cfg, *job)
		if err != nil {
			return err
		}
		ps, err := openPlanStore(ctx, cfg.Store)
		if err != nil {
			return err
		}
		defer ps.Close()
		log := c.logger(cfg, stderr)
		ps.cat.SetIndexCache(cfg.Store.CacheMB)
		eng := &engine.Engine{Catalog: ps.cat, Blobs: ps.sink, Log: log, Env: &connectors.Env{Log: log}, Mode: engine.ModePlan, KeyCap: cfg.History.KeyCap}
		results, err := runJobs(ctx, eng, cfg, jobs)
		if *format != "" {
			printSummary(stderr, results) // stdout carries the plan
		} else {
			printSummary(stdout, results)
		}
		if err != nil {
			return err
		}
		return emitPlan(ctx, ps.cat, results, *out, *format, stdout, stderr)
	}
}
