package main

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/workspace"
)

const reloadA = `
store: {path: ./data}
jobs:
  - name: alpha
    schedule: "0 3 * * *"
    sources: [{name: a1, type: testmem, files: 2}]
`

const reloadB = `
store: {path: ./data}
timezone: Europe/Berlin
jobs:
  - name: beta
    schedule: "CRON_TZ=UTC 30 1 * * *"
    sources: [{name: b1, type: testmem, files: 2}]
  - name: gamma
    schedule: "@every 6h"
    window: "22:00-06:00"
    jitter: 10m
    sources: [{name: g1, type: testmem, files: 2}]
`

type jobsReply struct {
	Config struct {
		scheduler.Info
		LastReloadError string `json:"last_reload_error"`
	} `json:"config"`
	Jobs []scheduler.JobStatus `json:"jobs"`
}

func jobNames(r jobsReply) string {
	var n []string
	for _, j := range r.Jobs {
		n = append(n, j.Name)
	}
	return strings.Join(n, ",")
}

func TestReloadRejectsBrokenConfigAndKeepsOld(t *testing.T) {
	path := tempConfig(t, reloadA)
	td := startTestDaemon(t, path, nil)
	var r jobsReply
	r = jobsReply{}
	getJSON(t, td.base+"/api/v1/jobs", "", &r)
	if jobNames(r) != "alpha" || r.Config.Generation != 1 {
		t.Fatalf("initial jobs %s gen %d", jobNames(r), r.Config.Generation)
	}
	broken := map[string]string{
		"yaml":       "jobs: [\n",
		"schedule":   strings.Replace(reloadB, "@every 6h", "every six hours", 1),
		"unknown":    reloadB + "    colour: blue\n",
		"store path": strings.Replace(reloadB, "./data", "./elsewhere", 1),
	}
	for what, text := range broken {
		writeFile(t, path, text)
		err := td.d.reload()
		if err == nil {
			t.Fatalf("broken config (%s) accepted", what)
		}
		r = jobsReply{}
		getJSON(t, td.base+"/api/v1/jobs", "", &r)
		if jobNames(r) != "alpha" || r.Config.Generation != 1 || r.Config.LastReloadError == "" {
			t.Errorf("after broken config (%s): jobs %s gen %d error %q; want the old config kept and the error shown", what, jobNames(r), r.Config.Generation, r.Config.LastReloadError)
		}
	}
	// The old config still works: its job can run.
	if code, b := do(t, http.MethodPost, td.base+"/api/v1/jobs/alpha/run", ""); code != http.StatusAccepted {
		t.Fatalf("run alpha after rejected reloads: %d %s", code, b)
	}
	eventually(t, "alpha's run", func() bool { return len(finishedRuns(t, td.base, "", "alpha")) == 1 })

	writeFile(t, path, reloadB)
	if err := td.d.reload(); err != nil {
		t.Fatal(err)
	}
	r = jobsReply{}
	getJSON(t, td.base+"/api/v1/jobs", "", &r)
	if jobNames(r) != "beta,gamma" || r.Config.Generation != 2 || r.Config.LastReloadError != "" || r.Config.Timezone != "Europe/Berlin" {
		t.Fatalf("after a good reload: jobs %s gen %d tz %s err %q", jobNames(r), r.Config.Generation, r.Config.Timezone, r.Config.LastReloadError)
	}
	if next := r.Jobs[0].NextRun; next == nil || next.UTC().Hour() != 1 || next.UTC().Minute() != 30 {
		t.Errorf("beta next run %v, want 01:30 UTC (CRON_TZ)", next)
	}
	if g := r.Jobs[1]; g.Window != "22:00-06:00" || g.Jitter != "10m0s" {
		t.Errorf("gamma status %+v", g)
	}
	if code, _ := do(t, http.MethodPost, td.base+"/api/v1/jobs/alpha/run", ""); code != http.StatusNotFound {
		t.Errorf("alpha still runnable after it was removed: %d", code)
	}
	fams := scrape(t, td.base, "")
	if v, _ := metric(fams, "syncd_config_reloads_total", "result", "error"); v != float64(len(broken)) {
		t.Errorf("reload errors metric %v, want %d", v, len(broken))
	}
	if v, _ := metric(fams, "syncd_config_reloads_total", "result", "ok"); v != 2 {
		t.Errorf("reload ok metric %v, want 2 (start + reload)", v)
	}
}

const migConfig = `
store: {path: ./data}
jobs:
  - name: mig
    sources: [{name: %s, type: testmem, files: 12%s}]
`

func TestStopMidRunThenResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "syncd.yaml")
	writeFile(t, path, strings.NewReplacer("%s, type", "migsrc, type", "12%s", "12, block_after: 5").Replace(migConfig))
	resetGate("migsrc")
	td := startTestDaemon(t, path, nil)
	if code, b := do(t, http.MethodPost, td.base+"/api/v1/jobs/mig/run", ""); code != http.StatusAccepted {
		t.Fatalf("POST run: %d %s", code, b)
	}
	waitGate(t, "migsrc")
	// Checkpoints commit in the background once their downloads end: let
	// the 5 items handed over be stored, then stop.
	eventually(t, "the 5 items handed over to be stored", func() bool {
		text := scrape(t, td.base, "")
		n, _ := metric(text, "syncd_items_total", "job", "mig", "action", "new")
		d, _ := metric(text, "syncd_items_total", "job", "mig", "action", "duplicate")
		return n+d >= 5
	})
	if err := td.stop(t); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "data", "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := cat.Runs(context.Background(), "mig", 5)
	kept := 0
	_ = cat.EachSighting(context.Background(), func(workspace.Sighting) error { kept++; return nil })
	cat.Close()
	if len(runs) != 1 || runs[0].Status != workspace.StatusInterrupted {
		t.Fatalf("runs after stop: %+v, want one interrupted", runs)
	}
	if kept < 3 || kept > 5 {
		t.Fatalf("%d sightings committed by the stopped run, want the checkpointed 3 up to the 5 handed over", kept)
	}

	writeFile(t, path, strings.NewReplacer("%s, type", "migsrc, type", "12%s", "12").Replace(migConfig))
	td2 := startTestDaemon(t, path, nil)
	if code, b := do(t, http.MethodPost, td2.base+"/api/v1/jobs/mig/run", ""); code != http.StatusAccepted {
		t.Fatalf("POST run: %d %s", code, b)
	}
	var done []runRecord
	eventually(t, "the resumed run", func() bool {
		done = finishedRuns(t, td2.base, "", "mig")
		return len(done) == 2
	})
	if r := done[0]; r.Status != workspace.StatusOK || r.Counts.Fetched != int64(12-kept) {
		t.Errorf("resumed run %+v: want ok fetching only the %d items not yet stored", r, 12-kept)
	}
}

func waitGate(t *testing.T, source string) {
	t.Helper()
	eventually(t, "source "+source+" to reach its block point", func() bool {
		select {
		case <-gateFor(source):
			return true
		default:
			return false
		}
	})
}

func TestTriggerConflictsWhileRunning(t *testing.T) {
	path := tempConfig(t, strings.NewReplacer("%s, type", "confsrc, type", "12%s", "12, block_after: 2").Replace(migConfig))
	resetGate("confsrc")
	td := startTestDaemon(t, path, nil)
	if code, _ := do(t, http.MethodPost, td.base+"/api/v1/jobs/mig/run", ""); code != http.StatusAccepted {
		t.Fatal("first POST refused")
	}
	waitGate(t, "confsrc")
	if code, b := do(t, http.MethodPost, td.base+"/api/v1/jobs/mig/run", ""); code != http.StatusConflict {
		t.Errorf("POST while running: %d %s, want 409", code, b)
	}
	var r jobsReply
	r = jobsReply{}
	getJSON(t, td.base+"/api/v1/jobs", "", &r)
	if !r.Jobs[0].Running {
		t.Errorf("job not shown running: %+v", r.Jobs[0])
	}
	if err := td.stop(t); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if resp, err := http.Get(td.base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("status server still up after stop")
	}
}
