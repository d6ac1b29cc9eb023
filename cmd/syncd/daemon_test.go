package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/workspace"
)

const apiConfig = `
store: {path: ./data}
jobs:
  - name: docs
    workspace: docs
    schedule: "@yearly"
    sources:
      - {name: apidrive, type: testmem, files: 8, broken: 1, skip: 2, throttled: 3, throttle_wait_ms: 1500, password_env: SYNCD_TEST_SOURCE_PASSWORD}
`

func TestDaemonTriggerRunsAPIAndMetrics(t *testing.T) {
	const secret = "hunter2-very-secret"
	t.Setenv("SYNCD_TEST_SOURCE_PASSWORD", secret)
	td := startTestDaemon(t, tempConfig(t, apiConfig), nil)
	if code, _ := do(t, http.MethodGet, td.base+"/readyz", ""); code != http.StatusOK {
		t.Fatalf("/readyz %d", code)
	}
	if code, _ := do(t, http.MethodPost, td.base+"/api/v1/jobs/nosuch/run", ""); code != http.StatusNotFound {
		t.Errorf("POST run of an unknown job: %d, want 404", code)
	}
	code, body := do(t, http.MethodPost, td.base+"/api/v1/jobs/docs/run", "")
	if code != http.StatusAccepted {
		t.Fatalf("POST run: %d %s", code, body)
	}
	var runs []runRecord
	// The scheduler takes note of the run after the catalog does, and
	// tells the metrics last: wait for them.
	eventually(t, "the triggered run to finish", func() bool {
		runs = finishedRuns(t, td.base, "", "docs")
		_, counted := metric(scrape(t, td.base, ""), "syncd_runs_total", "job", "docs")
		return len(runs) == 1 && counted
	})
	r := runs[0]
	if r.Status != workspace.StatusProblems || r.Counts.New != 5 || r.Counts.Skipped != 2 || r.ProblemsTotal != 1 {
		t.Fatalf("run %+v: want problems with 5 new, 2 skipped, 1 problem", r)
	}
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Ref, "broken-000") || r.Problems[0].Reason != "permission-denied" {
		t.Errorf("problems %+v: want the broken item with its reason", r.Problems)
	}
	var jobs struct {
		Config scheduler.Info        `json:"config"`
		Jobs   []scheduler.JobStatus `json:"jobs"`
	}
	getJSON(t, td.base+"/api/v1/jobs", "", &jobs)
	j := jobs.Jobs[0]
	if len(jobs.Jobs) != 1 || j.Name != "docs" || j.NextRun == nil || j.Last == nil || j.Last.RunID != r.ID || j.Last.Trigger != "manual" {
		t.Errorf("jobs %+v", jobs)
	}

	fams := scrape(t, td.base, "")
	lbl := []string{"job", "docs", "source", "apidrive"}
	want := map[string]float64{
		"syncd_items_fetched_total":                5,
		"syncd_item_problems_total":                1,
		"syncd_source_throttled_total":             3,
		"syncd_source_throttle_wait_seconds_total": 1.5,
		"syncd_dedupe_hits_total":                  0,
	}
	for name, v := range want {
		got, ok := metric(fams, name, lbl...)
		if name == "syncd_dedupe_hits_total" {
			if ok && got != 0 {
				t.Errorf("%s = %v, want no dedupe hits", name, got)
			}
			continue
		}
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, v)
		}
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"syncd_items_total", append(lbl, "action", "scanned"), 8},
		{"syncd_items_total", append(lbl, "action", "new"), 5},
		{"syncd_items_skipped_total", append(lbl, "reason", "not-a-document"), 2},
		{"syncd_source_requests_total", lbl, 8},
		{"syncd_runs_total", []string{"job", "docs", "status", "problems"}, 1},
		{"syncd_run_duration_seconds", []string{"job", "docs"}, 1},
		{"syncd_job_running", []string{"job", "docs"}, 0},
		{"syncd_config_reloads_total", []string{"result", "ok"}, 1},
	}
	for _, c := range checks {
		if got, ok := metric(fams, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for _, name := range []string{"syncd_last_success_timestamp_seconds", "syncd_source_last_success_timestamp_seconds"} {
		if got, ok := metric(fams, name, "job", "docs"); !ok || got < float64(r.Started.Unix()) {
			t.Errorf("%s = %v, want the run's time", name, got)
		}
	}

	// The secret never shows: not in the API, metrics or logs.
	for _, p := range []string{"/api/v1/jobs", "/api/v1/runs", "/metrics"} {
		if _, b := do(t, http.MethodGet, td.base+p, ""); strings.Contains(string(b), secret) {
			t.Errorf("%s exposes the source's secret", p)
		}
	}
	if err := td.stop(t); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(td.logs.String(), secret) {
		t.Error("logs contain the source's secret")
	}
	// Between runs the daemon keeps nothing of a run: once idle it hands
	// the heap back to the OS and says how much it still holds.
	if !strings.Contains(td.logs.String(), `"msg":"daemon idle: memory returned to the OS"`) {
		t.Error("no idle line after the run")
	}
}

func TestAPIRefusesWithoutTokenOffLoopback(t *testing.T) {
	cfg := tempConfig(t, apiConfig)
	t.Setenv("SYNCD_TEST_SOURCE_PASSWORD", "x")
	_, err := startDaemon(context.Background(), daemonOptions{common: common{config: cfg, logFormat: "json"}, listen: "0.0.0.0:0", tokenEnv: "SYNCD_TEST_NO_TOKEN"}, &syncBuf{})
	var ue usageError
	if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "without a bearer token") {
		t.Fatalf("non-loopback listen without a token: err=%v, want a usage error", err)
	}

	const token = "s3cr3t-token-value"
	t.Setenv("SYNCD_TEST_TOKEN", token)
	td := startTestDaemon(t, cfg, func(o *daemonOptions) {
		o.listen = "0.0.0.0:0" // every interface: not loopback
		o.tokenEnv = "SYNCD_TEST_TOKEN"
	})
	base := "http://127.0.0.1:" + td.d.addr()[strings.LastIndex(td.d.addr(), ":")+1:]
	for _, p := range []string{"/api/v1/jobs", "/api/v1/runs", "/metrics"} {
		for _, tok := range []string{"", "wrong", token + "x", token[:len(token)-1]} {
			if code, b := do(t, http.MethodGet, base+p, tok); code != http.StatusUnauthorized || strings.Contains(string(b), token) {
				t.Errorf("GET %s with token %q: %d, want 401", p, tok, code)
			}
		}
		if code, _ := do(t, http.MethodGet, base+p, token); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d", p, code)
		}
	}
	if code, _ := do(t, http.MethodPost, base+"/api/v1/jobs/docs/run", ""); code != http.StatusUnauthorized {
		t.Errorf("POST run without the token: %d, want 401", code)
	}
	if runs := finishedRuns(t, base, token, "docs"); len(runs) != 0 {
		t.Errorf("an unauthorised POST ran the job: %+v", runs)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := do(t, http.MethodGet, base+p, ""); code != http.StatusOK {
			t.Errorf("probe %s without a token: %d, want 200", p, code)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1:9470": true, "[::1]:9470": true, "localhost:9470": true, "127.1.2.3:1": true,
		"0.0.0.0:9470": false, ":9470": false, "[::]:9470": false, "10.0.0.5:9470": false,
		"example.org:80": false, "garbage": false,
	}
	for addr, want := range cases {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestExampleDaemonConfigLoads(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "configs", "daemon.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The example loads without its secrets (export, runs and verify need
	// none); the daemon's check of its sources refuses it, naming the
	// first missing one; given them, it passes.
	t.Setenv("SYNCD_SP_CLIENT_SECRET", "")
	t.Setenv("SYNCD_SMB_PASSWORD", "")
	bare, err := engine.ParseConfig("daemon.yaml", text)
	if err != nil {
		t.Fatalf("daemon.yaml without its secrets does not load: %v", err)
	}
	if err := bare.CheckSources(); err == nil || !strings.Contains(err.Error(), "imap-finance") {
		t.Fatalf("daemon.yaml without its secrets: err=%v, want one naming the missing password file", err)
	}
	pw := filepath.Join(t.TempDir(), "imap-finance")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text = bytes.ReplaceAll(text, []byte("/run/credentials/syncd.service/imap-finance"), []byte(pw))
	t.Setenv("SYNCD_SP_CLIENT_SECRET", "x")
	t.Setenv("SYNCD_SMB_PASSWORD", "x")
	cfg, err := engine.ParseConfig("daemon.yaml", text)
	if err == nil {
		err = cfg.CheckSources()
	}
	if err != nil {
		t.Fatal(err)
	}
	s := scheduler.New(scheduler.Options{Runner: &engine.Engine{}})
	if err := s.Load(cfg); err != nil {
		t.Fatal(err)
	}
	jobs := s.Jobs()
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want 3", len(jobs))
	}
	for _, j := range jobs {
		if j.NextRun == nil {
			t.Errorf("job %s has no next run", j.Name)
		}
	}
}

func TestMetricsForSkippedAndPanickedFirings(t *testing.T) {
	m := newMetrics()
	m.jobStarted("j", scheduler.TriggerSchedule)
	m.event(scheduler.Event{Job: "j", Outcome: scheduler.OutcomeLocked})
	m.event(scheduler.Event{Job: "j", Outcome: scheduler.OutcomeWindow})
	m.jobStarted("j", scheduler.TriggerSchedule)
	m.event(scheduler.Event{Job: "j", Outcome: scheduler.OutcomePanic})
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"syncd_job_firings_skipped_total", []string{"job", "j", "reason", "locked"}, 1},
		{"syncd_job_firings_skipped_total", []string{"job", "j", "reason", "window"}, 1},
		{"syncd_runs_total", []string{"job", "j", "status", "failed"}, 1},
		{"syncd_job_running", []string{"job", "j"}, 0},
	} {
		if got, ok := metric(byName, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
}
