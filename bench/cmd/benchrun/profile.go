package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"

	"github.com/syncd/syncd/connectors"
	_ "github.com/syncd/syncd/connectors/imap" // the source types syncd supports
	_ "github.com/syncd/syncd/connectors/share"
	_ "github.com/syncd/syncd/connectors/sharepoint"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// profileMain is the hidden `benchrun profile -config F -cpuprofile P`:
// what `syncd sync` does (open the store, run every job through the
// engine), in-process, under the CPU profiler, so a slow row can be
// explained without a profiling flag in syncd itself.
func profileMain(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchrun profile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "syncd config `file`")
	cpu := fs.String("cpuprofile", "cpu.prof", "write the CPU profile to `file`")
	tr := fs.String("trace", "", "also write an execution trace to `file` (go tool trace -pprof=sync|syscall|sched)")
	if err := fs.Parse(args); err != nil || *cfgPath == "" {
		fmt.Fprintln(stderr, "usage: benchrun profile -config FILE [-cpuprofile FILE]")
		return 2
	}
	if *tr != "" {
		f, err := os.Create(*tr)
		if err != nil {
			fmt.Fprintln(stderr, "benchrun profile:", err)
			return 1
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			fmt.Fprintln(stderr, "benchrun profile:", err)
			return 1
		}
		defer trace.Stop()
	}
	if err := profileSync(ctx, *cfgPath, *cpu, stderr); err != nil {
		fmt.Fprintln(stderr, "benchrun profile:", err)
		return 1
	}
	return 0
}

func profileSync(ctx context.Context, cfgPath, cpu string, stderr io.Writer) error {
	cfg, err := engine.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	cat, err := workspace.Open(ctx, filepath.Join(cfg.Store.Path, "catalog.db"), workspace.Options{})
	if err != nil {
		return err
	}
	defer cat.Close()
	blobs, err := dedupe.OpenDisk(cfg.Store.Path)
	if err != nil {
		return err
	}
	f, err := os.Create(cpu)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng := &engine.Engine{Catalog: cat, Blobs: blobs, Log: log, Env: &connectors.Env{}}
	for i := range cfg.Jobs {
		res, err := eng.RunJob(ctx, cfg.File, &cfg.Jobs[i])
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "job %s: %v\n", res.Job, res.Counts)
	}
	return nil
}
