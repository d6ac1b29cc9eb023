package sharepoint

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
	"github.com/syncd/syncd/dedupe"
)

// benchLibrary fills a fake library with n files of 1-4 versions of 8-40
// KB; every fifth file's current version is a copy of another file's.
func benchLibrary(b testing.TB, n int) (*graphfake.Server, string) {
	f := graphfake.New()
	b.Cleanup(f.Close)
	site := f.AddSite("contoso.sharepoint.com", "/sites/bench", "Bench")
	drive, err := f.AddDrive(site.ID, "Documents")
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		size := int64(8<<10 + (i*7919)%(32<<10))
		id, err := f.AddFile(drive, fmt.Sprintf("Team %d/Sub %d", i%20, i%7), fmt.Sprintf("doc %05d.docx", i),
			graphfake.Pattern(uint64(i)<<8, size), bob, at)
		if err != nil {
			b.Fatal(err)
		}
		for v := 1; v <= i%4; v++ {
			c := graphfake.Pattern(uint64(i)<<8|uint64(v), size+int64(v)*100)
			if v == i%4 && i%5 == 0 && i > 0 { // a copy of an earlier file's first version
				c = graphfake.Pattern(uint64(i-1)<<8, int64(8<<10+((i-1)*7919)%(32<<10)))
			}
			if _, err := f.AddVersion(drive, id, c, bob, at.Add(time.Duration(v)*time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return f, drive
}

func benchSource(b testing.TB, f *graphfake.Server) *Source {
	os.Setenv("SYNCD_TEST_GRAPH_TOKEN", "any-token")
	cfg := connectortest.Config(b, fmt.Sprintf("name: bench\ntype: sharepoint\naccess_token_env: SYNCD_TEST_GRAPH_TOKEN\nsite: contoso.sharepoint.com:/sites/bench\ngraph_url: %s\nconcurrency: 8\n", f.URL()))
	src, err := connectors.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return src.(*Source)
}

// BenchmarkLibrary scans a library of a few thousand files and downloads
// every version as an engine would, skipping content whose quickXorHash
// is already stored (hash first).
func BenchmarkLibrary(b *testing.B) {
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("SYNCD_SP_BENCH_FILES")); err == nil {
		n = v
	}
	f, _ := benchLibrary(b, n)
	warm := benchSource(b, f)
	if _, err := warm.Scan(context.Background(), nil, &connectortest.Recorder{}); err != nil { // the fake hashes each current version once
		b.Fatal(err)
	}
	warm.Close()
	b.ResetTimer()
	var files, avoided, bytes int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s := benchSource(b, f)
		known := map[string]bool{}
		var mu sync.Mutex
		rec := &connectortest.Recorder{OnItem: func(ctx context.Context, it *connectors.Item) error {
			if it.Skip != "" {
				return nil
			}
			atomic.AddInt64(&files, 1)
			mu.Lock()
			hit := it.Hashes[connectors.HashQuickXor] != "" && known[it.Hashes[connectors.HashQuickXor]]
			mu.Unlock()
			if hit {
				atomic.AddInt64(&avoided, 1)
				return nil
			}
			rc, err := s.Open(ctx, it)
			if err != nil {
				return err
			}
			defer rc.Close()
			sums, err := dedupe.HashReader(rc)
			if err != nil {
				return err
			}
			atomic.AddInt64(&bytes, sums.Size)
			mu.Lock()
			known[sums.QuickXor] = true
			mu.Unlock()
			return nil
		}}
		if _, err := s.Scan(context.Background(), nil, rec); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(files)/el, "files/s")
	b.ReportMetric(float64(bytes)/el/1e6, "MB/s")
	b.ReportMetric(float64(avoided)/float64(b.N), "avoided-downloads/op")
	b.ReportMetric(float64(files)/float64(b.N), "versions/op")
}

// peakHeap samples the heap while fn runs and returns the peak HeapInuse
// above the level before it started.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	if peak < base {
		return 0
	}
	return peak - base
}

// bigDownload lists nothing: it opens version 1.0 of a file whose 1.0 is
// size bytes generated on the fly by the fake, and hashes the stream.
func bigDownload(tb testing.TB, size int64) (n int64, peak uint64) {
	f := graphfake.New()
	tb.Cleanup(f.Close)
	site := f.AddSite("contoso.sharepoint.com", "/sites/bench", "Bench")
	drive, _ := f.AddDrive(site.ID, "Documents")
	id, _ := f.AddFile(drive, "Big", "disk.img", graphfake.Pattern(9, size), bob, time.Now())
	f.AddVersion(drive, id, graphfake.Bytes([]byte("small")), bob, time.Now())
	s := benchSource(tb, f)
	defer s.Close()
	it := &connectors.Item{Ref: versionRef(drive, id, "1.0"), Size: size}
	peak = peakHeap(func() {
		rc, err := s.Open(context.Background(), it)
		if err != nil {
			tb.Fatal(err)
		}
		defer rc.Close()
		sums, err := dedupe.HashReader(rc)
		if err != nil {
			tb.Fatal(err)
		}
		n = sums.Size
	})
	return n, peak
}

// BenchmarkDownload1GB reports throughput and peak heap for a 1 GiB version.
func BenchmarkDownload1GB(b *testing.B) {
	const size = 1 << 30
	var worst uint64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		n, peak := bigDownload(b, size)
		if n != size {
			b.Fatalf("read %d bytes", n)
		}
		worst = max(worst, peak)
	}
	b.ReportMetric(float64(size)*float64(b.N)/time.Since(start).Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MB")
}

func TestDownloadMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const size = 128 << 20
	n, peak := bigDownload(t, size)
	if n != size {
		t.Fatalf("read %d bytes, want %d", n, size)
	}
	t.Logf("peak heap growth while streaming %d MiB: %.1f MiB", size>>20, float64(peak)/(1<<20))
	if peak > 32<<20 {
		t.Errorf("peak heap grew by %d MiB while streaming %d MiB", peak>>20, size>>20)
	}
}
