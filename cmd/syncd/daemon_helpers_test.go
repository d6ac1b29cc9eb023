package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testDaemon is an in-process `syncd run`.
type testDaemon struct {
	d      *daemon
	base   string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuf
	hup    chan os.Signal
}

func startTestDaemon(t *testing.T, cfgPath string, edit func(*daemonOptions)) *testDaemon {
	t.Helper()
	o := daemonOptions{common: common{config: cfgPath, logFormat: "json", logLevel: "debug"},
		listen: "127.0.0.1:0", tokenEnv: "SYNCD_TEST_NO_TOKEN", stopTimeout: 20 * time.Second, maxJobs: 1}
	if edit != nil {
		edit(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuf{}
	d, err := startDaemon(ctx, o, logs)
	if err != nil {
		cancel()
		t.Fatalf("start daemon: %v", err)
	}
	td := &testDaemon{d: d, base: "http://" + d.addr(), cancel: cancel, done: make(chan error, 1), logs: logs, hup: make(chan os.Signal, 1)}
	go func() { td.done <- d.serve(ctx, td.hup, make(chan os.Signal)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-td.done:
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	return td
}

// stop cancels the daemon as SIGTERM would and returns serve's result.
func (td *testDaemon) stop(t *testing.T) error {
	t.Helper()
	td.cancel()
	select {
	case err := <-td.done:
		td.done <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop within 30s")
		return nil
	}
}

func do(t *testing.T, method, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	code, b := do(t, http.MethodGet, url, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

// eventually polls cond (a state check, not a sleep-and-hope) until it
// holds, failing after 30s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// scrape fetches /metrics and parses it with Prometheus's text parser.
func scrape(t *testing.T, base, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, b := do(t, http.MethodGet, base+"/metrics", token)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// metric returns the value of the sample of family name with labels.
func metric(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		n := 0
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; ok {
				if v != lp.GetValue() {
					continue next
				}
				n++
			}
		}
		if n != len(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

type runsReply struct {
	Runs []runRecord `json:"runs"`
}

// finishedRuns lists the job's runs that are no longer running.
func finishedRuns(t *testing.T, base, token, job string) []runRecord {
	var r runsReply
	getJSON(t, base+"/api/v1/runs?job="+job, token, &r)
	var out []runRecord
	for _, run := range r.Runs {
		if run.Status != "running" {
			out = append(out, run)
		}
	}
	return out
}

func tempConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "syncd.yaml")
	writeFile(t, p, text)
	return p
}

func contains(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
