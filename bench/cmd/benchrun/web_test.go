package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/bench/internal/results"
)

// Percentiles by nearest rank, from known samples.
func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	r := loadResult{Latency: append([]time.Duration(nil), d...)}
	slices.Sort(r.Latency)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {1, 1}, {50, 50}, {95, 95}, {99, 99}, {99.5, 100}, {100, 100}} {
		if got := r.pct(c.p); got != c.want*time.Millisecond {
			t.Errorf("p%g of 1..100 ms = %v, want %v", c.p, got, c.want*time.Millisecond)
		}
	}
	// Few samples: p50 of 4 is the 2nd, p95 and p99 the 4th.
	few := []time.Duration{10, 20, 30, 40}
	if percentile(few, 50) != 20 || percentile(few, 95) != 40 || percentile(few, 99) != 40 || percentile(few, 25) != 10 {
		t.Errorf("percentiles of %v: p25 %v p50 %v p95 %v p99 %v", few, percentile(few, 25), percentile(few, 50), percentile(few, 95), percentile(few, 99))
	}
	if percentile(nil, 95) != 0 {
		t.Error("percentile of no samples is not 0")
	}
}

// The load generator sends every request index once, warm-up first,
// times only the timed ones, reads every body and counts failures.
func TestRunLoad(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if r.Method == "POST" {
			io.Copy(io.Discard, r.Body)
		}
		mu.Lock()
		seen[i]++
		mu.Unlock()
		if i%10 == 7 && r.URL.Query().Get("fail") != "" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, strings.Repeat("x", i)) // answer i is i bytes
	}))
	defer srv.Close()
	ctx := context.Background()
	const warm, n = 7, 50
	res := runLoad(ctx, newLoadClient(3), 3, warm, n, func(i int) (*http.Request, error) {
		return newReq(ctx, "GET", fmt.Sprintf("%s/%d", srv.URL, i), "Bearer x", nil, "")
	})
	if res.Errors != 0 || res.Err != nil {
		t.Fatalf("errors %d: %v", res.Errors, res.Err)
	}
	if len(res.Latency) != n || len(res.Sizes) != n {
		t.Fatalf("%d latencies, %d sizes; want %d timed requests", len(res.Latency), len(res.Sizes), n)
	}
	for i := range warm + n {
		if seen[i] != 1 {
			t.Fatalf("request %d sent %d times", i, seen[i])
		}
	}
	if len(seen) != warm+n {
		t.Fatalf("%d distinct requests, want %d", len(seen), warm+n)
	}
	// Timed answers are requests 7..56, sizes 7..56 bytes: the median is
	// the 26th, 32.
	if res.Sizes[0] != warm || res.Sizes[n-1] != warm+n-1 || res.median() != 32 {
		t.Fatalf("sizes %d..%d median %d", res.Sizes[0], res.Sizes[n-1], res.median())
	}
	if !(res.pct(50) <= res.pct(95) && res.pct(95) <= res.pct(99) && res.pct(99) <= res.Latency[n-1]) || res.pct(50) <= 0 {
		t.Fatalf("percentiles out of order: %v %v %v", res.pct(50), res.pct(95), res.pct(99))
	}
	if res.Elapsed <= 0 || res.rps() <= 0 {
		t.Fatalf("elapsed %v, rps %v", res.Elapsed, res.rps())
	}

	// Failures: the server refuses indexes ending in 7; only the timed
	// ones (17, 27 ... 47) count.
	body := []byte(strings.Repeat("y", 1000))
	clear(seen)
	res = runLoad(ctx, newLoadClient(2), 2, warm, n, func(i int) (*http.Request, error) {
		return newReq(ctx, "POST", fmt.Sprintf("%s/%d?fail=1", srv.URL, i), "", body, "application/octet-stream")
	})
	wantFail := 0
	for i := warm; i < warm+n; i++ {
		if i%10 == 7 {
			wantFail++
		}
	}
	if res.Errors != wantFail || res.Err == nil || !strings.Contains(res.Err.Error(), "500") || len(res.Latency) != n-wantFail {
		t.Fatalf("errors %d (want %d), err %v, %d latencies", res.Errors, wantFail, res.Err, len(res.Latency))
	}
	if len(seen) != warm+n {
		t.Fatalf("%d distinct POSTs, want %d", len(seen), warm+n)
	}

	// A row from it: the time cells are p95 (p50–p99), the target is on
	// p95, failures make the row fail.
	r := webRow("x", "floor", 2, res, res, 0.5, 1<<20, p95AtMost(time.Hour, "p95 ≤ 1 h"))
	if r.Syncd.Wall.Median != res.pct(95).Seconds() || r.Syncd.Wall.Min != res.pct(50).Seconds() || r.Syncd.Wall.Max != res.pct(99).Seconds() {
		t.Fatalf("row wall %+v", r.Syncd.Wall)
	}
	if r.Err == "" || r.Met() != "no" {
		t.Fatalf("a row with failed requests: err %q met %q", r.Err, r.Met())
	}
	r.Err = ""
	if r.Met() != "yes" {
		t.Fatalf("p95 under an hour: met %q", r.Met())
	}
	if p95AtMost(time.Nanosecond, "").Met(r) {
		t.Fatal("p95 under a nanosecond met")
	}
	if (results.Row{}).Met() != "" {
		t.Fatal("results.Row without a target")
	}
}

// Fragments are 3-8 characters of the name, trimmed, never empty, and
// the same for the same seed.
func TestFragment(t *testing.T) {
	a, b := rand.New(rand.NewPCG(19, 1)), rand.New(rand.NewPCG(19, 1))
	for range 200 {
		name := "Document 263 v4.docx"
		f := fragment(name, a)
		if f != fragment(name, b) {
			t.Fatal("fragments differ for the same seed")
		}
		if f == "" || len(f) > 8 || !strings.Contains(name, f) {
			t.Fatalf("fragment %q of %q", f, name)
		}
	}
	if f := fragment("ab", a); f != "ab" {
		t.Fatalf("fragment of a short name: %q", f)
	}
}
