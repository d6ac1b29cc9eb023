package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/workspace"
)

// metrics are syncd's Prometheus metrics. It is an engine.Observer: the
// per-source counters move as the engine counts items and reads the
// connectors' counters, during the run; the run's result sets the rest.
type metrics struct {
	reg          *prometheus.Registry
	items        *prometheus.CounterVec
	itemBytes    *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	fetchedBytes *prometheus.CounterVec
	fetched      *prometheus.CounterVec
	dedupe       *prometheus.CounterVec
	savedBytes   *prometheus.CounterVec
	itemProblems *prometheus.CounterVec
	sourceFails  *prometheus.CounterVec
	source       []sourceMetric
	srcSuccess   *prometheus.GaugeVec
	runs         *prometheus.CounterVec
	runDuration  *prometheus.HistogramVec
	lastSuccess  *prometheus.GaugeVec
	running      *prometheus.GaugeVec
	firingsSkip  *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	reloadTime   prometheus.Gauge
	now          func() time.Time
}

// sourceMetric is the metric of one connector counter.
type sourceMetric struct {
	vec   *prometheus.CounterVec
	value func(*connectors.SourceCounters) float64
}

// sourceMetrics name a metric for each connector counter, one unit per
// metric: a connector sets the counters that mean something for it, and
// a series appears once its counter is above zero.
var sourceMetrics = []struct {
	name, help string
	value      func(*connectors.SourceCounters) float64
}{
	{"source_requests_total", "Requests sent to the remote service (SharePoint).", func(c *connectors.SourceCounters) float64 { return float64(c.Requests) }},
	{"source_delta_requests_total", "Delta pages requested (SharePoint).", func(c *connectors.SourceCounters) float64 { return float64(c.DeltaRequests) }},
	{"source_downloads_total", "Content downloads started (SharePoint).", func(c *connectors.SourceCounters) float64 { return float64(c.Downloads) }},
	{"source_resumed_downloads_total", "Downloads resumed after a dropped connection (SharePoint).", func(c *connectors.SourceCounters) float64 { return float64(c.ResumedDownloads) }},
	{"source_throttled_total", "Requests or commands the remote service throttled.", func(c *connectors.SourceCounters) float64 { return float64(c.Throttled) }},
	{"source_throttle_wait_seconds_total", "Time spent waiting because of throttling.", func(c *connectors.SourceCounters) float64 { return float64(c.ThrottleWaitMS) / 1000 }},
	{"source_retries_total", "Requests sent again after throttling or a dropped connection.", func(c *connectors.SourceCounters) float64 { return float64(c.Retries) }},
	{"source_ratelimit_slowdowns_total", "Pauses on a RateLimit warning before any throttling (SharePoint).", func(c *connectors.SourceCounters) float64 { return float64(c.RateLimitSlowdowns) }},
	{"source_logins_total", "Connections logged in (IMAP).", func(c *connectors.SourceCounters) float64 { return float64(c.Logins) }},
	{"source_reconnects_total", "Connections opened again after a drop (IMAP).", func(c *connectors.SourceCounters) float64 { return float64(c.Reconnects) }},
	{"source_mailboxes_examined_total", "Mailboxes opened read-only (IMAP).", func(c *connectors.SourceCounters) float64 { return float64(c.Examines) }},
	{"source_messages_scanned_total", "Messages whose structure was read (IMAP).", func(c *connectors.SourceCounters) float64 { return float64(c.MessagesScanned) }},
	{"source_parts_fetched_total", "Message parts read (IMAP).", func(c *connectors.SourceCounters) float64 { return float64(c.PartsFetched) }},
	{"source_files_listed_total", "Files listed (share).", func(c *connectors.SourceCounters) float64 { return float64(c.Listed) }},
	{"source_files_unchanged_total", "Files the cursor showed unchanged (share).", func(c *connectors.SourceCounters) float64 { return float64(c.Unchanged) }},
	{"source_files_reported_total", "Files reported as items (share).", func(c *connectors.SourceCounters) float64 { return float64(c.Emitted) }},
	{"source_files_skipped_total", "Files reported with a skip reason (share).", func(c *connectors.SourceCounters) float64 { return float64(c.Skipped) }},
	{"source_files_opened_total", "Files opened for reading (share).", func(c *connectors.SourceCounters) float64 { return float64(c.Opened) }},
	{"source_changed_reads_total", "Files that changed while being read (share).", func(c *connectors.SourceCounters) float64 { return float64(c.ChangedReads) }},
	{"source_problems_total", "Problems the connector reported (also in syncd_item_problems_total).", func(c *connectors.SourceCounters) float64 { return float64(c.Problems) }},
	{"source_gone_total", "Copies the connector found no longer at the source (IMAP, share).", func(c *connectors.SourceCounters) float64 { return float64(c.Gone) }},
	{"source_received_bytes_total", "Bytes received from the remote, re-reads and TNEF containers included (syncd_fetched_bytes_total counts the items' content).", func(c *connectors.SourceCounters) float64 { return float64(c.ReceivedBytes) }},
}

var _ engine.Observer = (*metrics)(nil)

func newMetrics() *metrics {
	js := []string{"job", "source"}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "syncd", Name: name, Help: help}, labels)
	}
	gv := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "syncd", Name: name, Help: help}, labels)
	}
	m := &metrics{
		reg:          prometheus.NewRegistry(),
		items:        cv("items_total", "Items handled, by what the engine did (scanned, known, new, duplicate, skip, problem, gone).", "job", "source", "action"),
		itemBytes:    cv("item_bytes_total", "Bytes of items stored new or recognised as duplicates.", "job", "source", "action"),
		skipped:      cv("items_skipped_total", "Items skipped, by reason.", "job", "source", "reason"),
		fetched:      cv("items_fetched_total", "Items downloaded from sources.", js...),
		fetchedBytes: cv("fetched_bytes_total", "Bytes downloaded from sources.", js...),
		dedupe:       cv("dedupe_hits_total", "Items whose content was already stored (by=content: downloaded then matched; by=remote_hash: not downloaded).", "job", "source", "by"),
		savedBytes:   cv("dedupe_saved_bytes_total", "Bytes not stored again thanks to deduplication.", js...),
		itemProblems: cv("item_problems_total", "Items that could not be read or stored (a source that stopped is counted in syncd_source_failures_total).", js...),
		sourceFails:  cv("source_failures_total", "Sources that stopped with an error.", js...),
		srcSuccess:   gv("source_last_success_timestamp_seconds", "When the source last finished a scan without error.", js...),
		runs:         cv("runs_total", "Job runs by final status (ok, problems, failed, interrupted).", "job", "status"),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "syncd", Name: "run_duration_seconds", Help: "Job run durations.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}, []string{"job"}),
		lastSuccess: gv("last_success_timestamp_seconds", "When the job last finished (status ok or problems).", "job"),
		running:     gv("job_running", "1 while the job runs.", "job"),
		firingsSkip: cv("job_firings_skipped_total", "Scheduled firings that did not run (overlap, window, locked, stopping).", "job", "reason"),
		reloads:     cv("config_reloads_total", "Config reloads by result (ok, error).", "result"),
		reloadTime:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "syncd", Name: "config_last_reload_success_timestamp_seconds", Help: "When the running config was loaded."}),
		now:         time.Now,
	}
	m.reg.MustRegister(m.items, m.fetched, m.itemBytes, m.skipped, m.fetchedBytes, m.dedupe, m.savedBytes, m.itemProblems,
		m.sourceFails, m.srcSuccess, m.runs, m.runDuration,
		m.lastSuccess, m.running, m.firingsSkip, m.reloads, m.reloadTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, sm := range sourceMetrics {
		vec := cv(sm.name, sm.help, js...)
		m.reg.MustRegister(vec)
		m.source = append(m.source, sourceMetric{vec: vec, value: sm.value})
	}
	return m
}

// SourceStarted implements engine.Observer.
func (m *metrics) SourceStarted(string, string) {}

// Counted implements engine.Observer: every per-source counter moves
// here, as the run goes. A change below zero (an item counted stored,
// then a problem) is left out: a counter never goes down.
func (m *metrics) Counted(job, source string, d workspace.Counts) {
	add := func(c *prometheus.CounterVec, v float64, labels ...string) {
		if v > 0 {
			c.WithLabelValues(labels...).Add(v)
		}
	}
	action := func(a engine.Action, v int64) { add(m.items, float64(v), job, source, string(a)) }
	action(engine.ActScanned, d.Scanned)
	action(engine.ActKnown, d.Known)
	action(engine.ActNew, d.New)
	action(engine.ActDuplicate, d.Duplicate)
	action(engine.ActSkip, d.Skipped)
	action(engine.ActProblem, d.Problems)
	action(engine.ActGone, d.Gone)
	add(m.itemBytes, float64(d.BytesNew), job, source, string(engine.ActNew))
	add(m.itemBytes, float64(d.BytesSaved), job, source, string(engine.ActDuplicate))
	for reason, v := range d.SkippedBy {
		add(m.skipped, float64(v), job, source, reason)
	}
	add(m.fetched, float64(d.Fetched), job, source)
	add(m.fetchedBytes, float64(d.BytesFetched), job, source)
	add(m.savedBytes, float64(d.BytesSaved), job, source)
	add(m.dedupe, float64(d.HashHits), job, source, "remote_hash")
	add(m.dedupe, float64(d.Duplicate-d.HashHits), job, source, "content")
	add(m.itemProblems, float64(d.Problems), job, source)
	for _, sm := range m.source {
		add(sm.vec, sm.value(&d.Source), job, source)
	}
}

// SourceFinished implements engine.Observer. The counts were heard as
// they changed (Counted): only the source's outcome is left.
func (m *metrics) SourceFinished(job, source string, _ workspace.Counts, err error) {
	switch {
	case err == nil:
		m.srcSuccess.WithLabelValues(job, source).Set(float64(m.now().Unix()))
	case !errors.Is(err, context.Canceled):
		m.sourceFails.WithLabelValues(job, source).Inc()
	}
}

// jobStarted marks a job running.
func (m *metrics) jobStarted(job, _ string) { m.running.WithLabelValues(job).Set(1) }

// event records one scheduler firing.
func (m *metrics) event(ev scheduler.Event) {
	switch ev.Outcome {
	case scheduler.OutcomeRan, scheduler.OutcomePanic, scheduler.OutcomeFailed:
	case scheduler.OutcomeLocked: // it got as far as trying the lock
		m.running.WithLabelValues(ev.Job).Set(0)
		fallthrough
	default:
		m.firingsSkip.WithLabelValues(ev.Job, strings.TrimPrefix(ev.Outcome, "skipped-")).Inc()
		return
	}
	m.running.WithLabelValues(ev.Job).Set(0)
	status := workspace.StatusFailed
	if ev.Result != nil {
		status = ev.Result.Status
		m.runDuration.WithLabelValues(ev.Job).Observe(ev.Result.Finished.Sub(ev.Result.Started).Seconds())
	}
	m.runs.WithLabelValues(ev.Job, status).Inc()
	if status == workspace.StatusOK || status == workspace.StatusProblems {
		m.lastSuccess.WithLabelValues(ev.Job).Set(float64(ev.Result.Finished.Unix()))
	}
}

// reloaded records a config load.
func (m *metrics) reloaded(err error) {
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.reloadTime.Set(float64(m.now().Unix()))
}

// clusterCollector reports, at each scrape, what every process sharing the
// store holds: the same on every worker.
type clusterCollector struct {
	cat        *workspace.Catalog
	lock, unit *prometheus.Desc
	log        func(err error)
}

func newClusterCollector(cat *workspace.Catalog, log func(error)) *clusterCollector {
	return &clusterCollector{
		cat: cat, log: log,
		lock: prometheus.NewDesc("syncd_cluster_lock_expiry_timestamp_seconds",
			"Locks held in the store, by any process: when the holder's lease runs out.", []string{"lock", "holder"}, nil),
		unit: prometheus.NewDesc("syncd_cluster_units",
			"Units of work (sources) of the runs under way, by job, state and holding process.", []string{"job", "state", "holder"}, nil),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lock
	ch <- c.unit
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := readCluster(ctx, c.cat)
	if err != nil {
		c.log(err)
		return
	}
	for _, l := range v.Locks {
		ch <- prometheus.MustNewConstMetric(c.lock, prometheus.GaugeValue, float64(l.Expires.UnixMilli())/1000, l.Name, l.Holder)
	}
	type key struct{ job, state, holder string }
	n := map[key]int{}
	var keys []key
	for _, u := range v.Units {
		k := key{u.Job, u.State, u.Holder}
		if n[k] == 0 {
			keys = append(keys, k)
		}
		n[k]++
	}
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(c.unit, prometheus.GaugeValue, float64(n[k]), k.job, k.state, k.holder)
	}
}
