package sharepoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

func TestStormOf429s(t *testing.T) {
	clean := newFake(t)
	want, _ := connectortest.Scan(t, newSource(t, clean, ""), nil)

	f := newFake(t)
	f.PageSize = 2
	throttle := graphfake.Fault{Status: 429, RetryAfter: "0"}
	f.Inject(graphfake.Rule{Route: graphfake.RouteSite, Times: 3, Fault: throttle})
	f.Inject(graphfake.Rule{Route: graphfake.RouteDelta, After: 1, Times: 5, Fault: throttle})
	f.Inject(graphfake.Rule{Route: graphfake.RouteVersions, After: 2, Times: 4, Fault: graphfake.Fault{Status: 503, RetryAfter: "0"}})
	f.Inject(graphfake.Rule{Route: graphfake.RouteContent, Times: 2, Fault: throttle})
	f.Inject(graphfake.Rule{Route: graphfake.RouteDownload, After: 1, Times: 2, Fault: throttle})
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, nil)
	got := map[connectors.Ref]int{}
	for _, it := range rec.Items {
		got[it.Ref]++
	}
	for _, it := range want.Items {
		if got[it.Ref] != 1 {
			t.Errorf("%s reported %d times under throttling, want once", it.Ref, got[it.Ref])
		}
	}
	if len(got) != len(want.Items) {
		t.Errorf("%d refs under throttling, %d without", len(got), len(want.Items))
	}
	for _, it := range rec.Content() {
		if b := read(t, s, it); int64(len(b)) != it.Size {
			t.Errorf("%s: read %d bytes, size %d", it.Ref, len(b), it.Size)
		}
	}
	if n := s.Counters().Throttled; n != 16 {
		t.Errorf("throttled counter %d, want 16", n)
	}
}

func TestThrottlingExhaustedIsRetryable(t *testing.T) {
	f := newFake(t)
	f.Inject(graphfake.Rule{Route: graphfake.RouteDelta, Times: 1000, Fault: graphfake.Fault{Status: 429, RetryAfter: "0"}})
	s := newSource(t, f, "max_retries: 3\n")
	_, err := s.Scan(context.Background(), nil, &connectortest.Recorder{})
	if err == nil || !connectors.IsRetryable(err) {
		t.Fatalf("scan under endless throttling: %v, want a Retryable error", err)
	}
	if n := f.Count(graphfake.RouteDelta); n != 4 {
		t.Errorf("%d delta attempts, want 1 + 3 retries", n)
	}
}

func TestRetryAfterPausesTheWholeTenant(t *testing.T) {
	f := newFake(t)
	env := &connectors.Env{}
	a := newSourceEnv(t, f, "", env)
	b := newSourceEnv(t, f, "", env)
	if a.g == nil || a.gov != b.gov {
		t.Fatal("two sources of one tenant do not share a governor")
	}
	f.Inject(graphfake.Rule{Route: graphfake.RouteSite, Fault: graphfake.Fault{Status: 429, RetryAfter: "1"}})
	start := time.Now()
	connectortest.Scan(t, a, nil)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("scan finished %v after a Retry-After of 1 s", d)
	}
	if w := a.Counters().ThrottleWaitMS; w < 900 {
		t.Errorf("throttle_wait_ms %d, want about 1000", w)
	}
}

func TestRateLimitHeadersSlowDown(t *testing.T) {
	f := newFake(t)
	f.Inject(graphfake.Rule{Route: graphfake.RouteSite, Fault: graphfake.Fault{Headers: map[string]string{
		"RateLimit-Limit": "1000", "RateLimit-Remaining": "50", "RateLimit-Reset": "0"}}})
	s := newSource(t, f, "")
	connectortest.Scan(t, s, nil)
	if n := s.Counters().RateLimitSlowdowns; n != 1 {
		t.Errorf("ratelimit_slowdowns %d, want 1", n)
	}
}

func TestDroppedDownloadResumesWithRange(t *testing.T) {
	f := newFake(t)
	content := graphfake.Pattern(42, 3<<20+17)
	id, err := f.AddFile(financeDocs, "Big", "big.bin", content, bob, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, nil)
	it := byRef(rec.Items)[versionRef(financeDocs, id, "1.0")]
	if it == nil {
		t.Fatal("big file not listed")
	}
	f.Inject(graphfake.Rule{Route: graphfake.RouteDownload, Times: 2, Fault: graphfake.Fault{DropAfter: 1 << 20}})
	got := sha256.New()
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(got, rc)
	rc.Close()
	if err != nil || n != content.Size() {
		t.Fatalf("read %d bytes, err %v; want %d", n, err, content.Size())
	}
	r, _ := content.Open()
	want := sha256.New()
	io.Copy(want, r)
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("resumed download differs from the content")
	}
	if c := s.Counters().ResumedDownloads; c != 2 || f.RangeRequests() != 2 {
		t.Errorf("resumed_downloads %d, Range requests %d; want 2 and 2", c, f.RangeRequests())
	}
}

func TestChangedCurrentVersionIsDetected(t *testing.T) {
	f := newFake(t)
	s := newSource(t, f, "")
	rec, _ := connectortest.Scan(t, s, nil)
	it := byRef(rec.Items)[versionRef(financeDocs, minutesID, "1.0")]
	if _, err := f.AddVersion(financeDocs, minutesID, graphfake.Bytes([]byte("minutes of the Februar meeting\n")), bob, time.Now()); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, connectors.ErrChanged) {
		t.Errorf("reading a current version that changed since the scan: %v, want ErrChanged", err)
	}
}
