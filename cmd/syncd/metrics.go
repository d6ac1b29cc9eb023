package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/scheduler"
	"github.com/syncd/syncd/workspace"
)

// metrics are syncd's Prometheus metrics. It is an engine.Observer (live
// item counts) and hears each run's result (everything else).
type metrics struct {
	reg           *prometheus.Registry
	items         *prometheus.CounterVec
	itemBytes     *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	fetchedBytes  *prometheus.CounterVec
	fetched       *prometheus.CounterVec
	dedupe        *prometheus.CounterVec
	savedBytes    *prometheus.CounterVec
	problems      *prometheus.CounterVec
	sourceFails   *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	throttleWait  *prometheus.CounterVec
	sourceCounter *prometheus.CounterVec
	srcSuccess    *prometheus.GaugeVec
	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	lastSuccess   *prometheus.GaugeVec
	running       *prometheus.GaugeVec
	firingsSkip   *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	reloadTime    prometheus.Gauge
	now           func() time.Time
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
		reg:           prometheus.NewRegistry(),
		items:         cv("items_total", "Items handled, by what the engine did (scanned, known, new, duplicate, skip, problem).", "job", "source", "action"),
		itemBytes:     cv("item_bytes_total", "Bytes of items stored new or recognised as duplicates.", "job", "source", "action"),
		skipped:       cv("items_skipped_total", "Items skipped, by reason.", "job", "source", "reason"),
		fetched:       cv("items_fetched_total", "Items downloaded from sources.", js...),
		fetchedBytes:  cv("fetched_bytes_total", "Bytes downloaded from sources.", js...),
		dedupe:        cv("dedupe_hits_total", "Items whose content was already stored (by=content: downloaded then matched; by=remote_hash: not downloaded).", "job", "source", "by"),
		savedBytes:    cv("dedupe_saved_bytes_total", "Bytes not stored again thanks to deduplication.", js...),
		problems:      cv("errors_total", "Items that could not be read, and source failures.", js...),
		sourceFails:   cv("source_failures_total", "Sources that stopped with an error.", js...),
		throttled:     cv("throttled_requests_total", "Requests the remote service throttled.", js...),
		throttleWait:  cv("throttle_wait_seconds_total", "Time spent waiting because of throttling.", js...),
		sourceCounter: cv("source_counter_total", "Connector-specific counters (requests, reconnects, ...).", "job", "source", "counter"),
		srcSuccess:    gv("source_last_success_timestamp_seconds", "When the source last finished a scan without error.", js...),
		runs:          cv("runs_total", "Job runs by final status (ok, problems, failed, interrupted).", "job", "status"),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "syncd", Name: "run_duration_seconds", Help: "Job run durations.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}, []string{"job"}),
		lastSuccess: gv("last_success_timestamp_seconds", "When the job last finished (status ok or problems).", "job"),
		running:     gv("job_running", "1 while the job runs.", "job"),
		firingsSkip: cv("job_firings_skipped_total", "Scheduled firings that did not run (overlap, window, locked, stopping).", "job", "reason"),
		reloads:     cv("config_reloads_total", "Config reloads by result (ok, error).", "result"),
		reloadTime:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "syncd", Name: "config_last_reload_success_timestamp_seconds", Help: "When the running config was loaded."}),
		now:         time.Now,
	}
	m.reg.MustRegister(m.items, m.fetched, m.itemBytes, m.skipped, m.fetchedBytes, m.dedupe, m.savedBytes, m.problems,
		m.sourceFails, m.throttled, m.throttleWait, m.sourceCounter, m.srcSuccess, m.runs, m.runDuration,
		m.lastSuccess, m.running, m.firingsSkip, m.reloads, m.reloadTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SourceStarted implements engine.Observer.
func (m *metrics) SourceStarted(string, string) {}

// Item implements engine.Observer.
func (m *metrics) Item(job, source string, a engine.Action, bytes int64) {
	m.items.WithLabelValues(job, source, string(a)).Inc()
	if bytes > 0 && (a == engine.ActNew || a == engine.ActDuplicate) {
		m.itemBytes.WithLabelValues(job, source, string(a)).Add(float64(bytes))
	}
}

// SourceFinished implements engine.Observer: the source's counts carry
// skip reasons, bytes and the connector's own counters ("source.*").
func (m *metrics) SourceFinished(job, source string, counts map[string]int64, err error) {
	add := func(c *prometheus.CounterVec, v int64, labels ...string) {
		if v > 0 {
			c.WithLabelValues(labels...).Add(float64(v))
		}
	}
	for k, v := range counts {
		switch {
		case strings.HasPrefix(k, "skipped."):
			add(m.skipped, v, job, source, strings.TrimPrefix(k, "skipped."))
		case k == "source.throttled":
			add(m.throttled, v, job, source)
		case k == "source.throttle_wait_ms":
			if v > 0 {
				m.throttleWait.WithLabelValues(job, source).Add(float64(v) / 1000)
			}
		case strings.HasPrefix(k, "source."):
			add(m.sourceCounter, v, job, source, strings.TrimPrefix(k, "source."))
		}
	}
	add(m.fetched, counts["fetched"], job, source)
	add(m.fetchedBytes, counts["bytes_fetched"], job, source)
	add(m.savedBytes, counts["bytes_saved"], job, source)
	add(m.dedupe, counts["hash_hits"], job, source, "remote_hash")
	add(m.dedupe, counts["duplicate"]-counts["hash_hits"], job, source, "content")
	add(m.problems, counts["problems"], job, source)
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
