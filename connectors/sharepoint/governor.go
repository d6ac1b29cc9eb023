package sharepoint

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncd/syncd/connectors"
)

// Governor paces every Graph request to one tenant, shared by all sources
// of the process (connectors.Env.Shared): at most n requests in flight,
// and after a 429/503 or a RateLimit warning nobody sends until the
// server's Retry-After / RateLimit-Reset has passed.
type Governor struct {
	sem   chan struct{}
	mu    sync.Mutex
	until time.Time
}

// NewGovernor returns a governor allowing n concurrent requests.
func NewGovernor(n int) *Governor {
	if n <= 0 {
		n = 4
	}
	return &Governor{sem: make(chan struct{}, n)}
}

// acquire waits for a slot and for any pause; it returns how long it
// waited because of a pause.
func (g *Governor) acquire(ctx context.Context) (time.Duration, error) {
	var waited time.Duration
	for {
		g.mu.Lock()
		d := time.Until(g.until)
		g.mu.Unlock()
		if d <= 0 {
			break
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return waited, ctx.Err()
		case <-t.C:
			waited += d
		}
	}
	select {
	case g.sem <- struct{}{}:
		return waited, nil
	case <-ctx.Done():
		return waited, ctx.Err()
	}
}

func (g *Governor) release() { <-g.sem }

// pause holds every request of the tenant for d.
func (g *Governor) pause(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := time.Now().Add(d); t.After(g.until) {
		g.until = t
	}
}

// meter holds the source's counters (connectors.Metered).
type meter struct {
	requests, deltaRequests, downloads, resumed  atomic.Int64
	throttled, throttleWaitMS, retries, slowdown atomic.Int64
	downloadedBytes                              atomic.Int64
}

func (m *meter) counters() connectors.SourceCounters {
	return connectors.SourceCounters{
		Requests: m.requests.Load(), DeltaRequests: m.deltaRequests.Load(),
		Downloads: m.downloads.Load(), ResumedDownloads: m.resumed.Load(),
		Throttled: m.throttled.Load(), ThrottleWaitMS: m.throttleWaitMS.Load(),
		Retries: m.retries.Load(), RateLimitSlowdowns: m.slowdown.Load(),
		ReceivedBytes: m.downloadedBytes.Load(),
	}
}

// transport is the bottom of both HTTP stacks (kiota's pipeline and the
// download client): governor, User-Agent, counters, retries of throttled
// (429/503/504) and dropped GETs.
type transport struct {
	base       http.RoundTripper
	gov        *Governor
	m          *meter
	ua         string
	maxRetries int
	log        *slog.Logger
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		waited, err := t.gov.acquire(ctx)
		t.m.throttleWaitMS.Add(waited.Milliseconds())
		if err != nil {
			return nil, err
		}
		r := req.Clone(ctx)
		r.Header.Set("User-Agent", strings.TrimSpace(t.ua+" "+req.Header.Get("User-Agent")))
		t.m.requests.Add(1)
		if strings.Contains(req.URL.Path, "/delta") {
			t.m.deltaRequests.Add(1)
		}
		resp, err := t.base.RoundTrip(r)
		t.gov.release()
		retry, wait := t.judge(req, resp, err, attempt)
		if !retry {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		t.m.retries.Add(1)
		t.log.Debug("sharepoint: retrying request", "url", req.URL.Redacted(), "attempt", attempt+1, "wait", wait)
		t.gov.pause(wait)
	}
}

// judge decides whether to retry and after how long, and applies the
// RateLimit-* headers of a successful response.
func (t *transport) judge(req *http.Request, resp *http.Response, err error, attempt int) (bool, time.Duration) {
	canRetry := attempt < t.maxRetries && (req.Body == nil || req.Body == http.NoBody) && req.Context().Err() == nil
	if err != nil {
		var ne net.Error
		if canRetry && (errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return true, backoff(attempt)
		}
		return false, 0
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		t.m.throttled.Add(1)
		d, ok := retryAfter(resp.Header.Get("Retry-After"))
		if !ok {
			d = backoff(attempt)
		}
		if !canRetry {
			t.gov.pause(d)
		}
		return canRetry, d
	}
	t.rateLimit(resp.Header)
	return false, 0
}

// rateLimit slows the tenant down when SharePoint's RateLimit headers say
// the quota is nearly used (it sends them from 80% of the limit).
func (t *transport) rateLimit(h http.Header) {
	rem, err1 := strconv.Atoi(h.Get("RateLimit-Remaining"))
	lim, err2 := strconv.Atoi(h.Get("RateLimit-Limit"))
	reset, err3 := strconv.Atoi(h.Get("RateLimit-Reset"))
	if err1 != nil || err3 != nil {
		return
	}
	if rem <= 0 || (err2 == nil && lim > 0 && rem*10 <= lim) {
		t.m.slowdown.Add(1)
		t.gov.pause(time.Duration(reset) * time.Second)
	}
}

func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
		return time.Duration(f * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 6)
	return min(d, time.Minute)
}
