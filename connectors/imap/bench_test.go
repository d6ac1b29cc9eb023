package imap_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// writeBigMessage writes DIR/<acct>/INBOX/<uid>.eml with one base64
// attachment of size bytes, streaming (never holding the attachment).
func writeBigMessage(tb testing.TB, dir string, uid int, size int64) {
	p := filepath.Join(dir, alice, "INBOX", fmt.Sprintf("%04d.eml", uid))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "From: Bob <bob@example.org>\r\nTo: %s\r\nSubject: big %d\r\nDate: Mon, 1 Apr 2024 10:00:00 +0000\r\n"+
		"Message-ID: <big-%d@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"+
		"--b\r\nContent-Type: text/plain\r\n\r\nbig\r\n--b\r\nContent-Type: application/octet-stream; name=\"big%d.bin\"\r\n"+
		"Content-Disposition: attachment; filename=\"big%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", alice, uid, uid, uid, uid)
	rng := rand.NewChaCha8([32]byte{byte(uid)})
	raw := make([]byte, 57*1024) // 57 bytes -> one 76-char line
	line := make([]byte, 76)
	for left := size; left > 0; {
		n := int64(len(raw))
		if left < n {
			n = left
		}
		rng.Read(raw[:n])
		for i := int64(0); i < n; i += 57 {
			end := min(i+57, n)
			base64.StdEncoding.Encode(line, raw[i:end])
			w.Write(line[:base64.StdEncoding.EncodedLen(int(end-i))])
			w.WriteString("\r\n")
		}
		left -= n
	}
	w.WriteString("--b--\r\n")
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// peakHeap samples HeapInuse until stop is closed.
func peakHeap(stop <-chan struct{}) *atomic.Uint64 {
	var peak atomic.Uint64
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return &peak
}

func vmHWM() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func benchPull(b *testing.B, n int, size int64) {
	dir := b.TempDir()
	for i := 1; i <= n; i++ {
		writeBigMessage(b, dir, i, size)
	}
	srv, err := imaptest.StartDovecot(context.Background(), dir)
	if err == imaptest.ErrNoDovecot {
		if os.Getenv("CI") != "" {
			b.Fatal(err)
		}
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	runtime.GC()
	b.SetBytes(int64(n) * size)
	b.ResetTimer()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s := newSource(b, server{"dovecot", srv.Addr}, alice, benchExtra())
		rec, _ := scanB(b, s)
		if len(rec.Content()) != n {
			b.Fatalf("%d items, want %d", len(rec.Content()), n)
		}
		for _, it := range rec.Content() {
			rc, err := s.Open(context.Background(), it)
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			got, err := io.Copy(h, rc)
			rc.Close()
			if err != nil || got != size {
				b.Fatalf("read %d of %d: %v", got, size, err)
			}
		}
		s.Close()
	}
	el := time.Since(start)
	b.StopTimer() // not the Dovecot shutdown
	close(stop)
	b.ReportMetric(float64(n*b.N)/el.Seconds(), "attachments/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(vmHWM(), "peak-rss-MB")
}

// benchExtra is the source configuration the pull benchmarks add:
// SYNCD_IMAP_BENCH_BINARY=never fetches the encoded part (BODY.PEEK) and
// decodes it in syncd instead of Dovecot (BINARY.PEEK).
func benchExtra() string {
	if v := os.Getenv("SYNCD_IMAP_BENCH_BINARY"); v != "" {
		return "binary: " + v + "\n"
	}
	return ""
}

func scanB(b *testing.B, s connectors.Source) (*connectortest.Recorder, connectors.Cursor) {
	rec := &connectortest.Recorder{}
	cur, err := s.Scan(context.Background(), nil, rec)
	if err != nil {
		b.Fatal(err)
	}
	return rec, cur
}

// BenchmarkLargeAttachment pulls one attachment of SYNCD_IMAP_BENCH_MB
// (default 64) MiB from Dovecot: streaming means peak heap stays flat.
func BenchmarkLargeAttachment(b *testing.B) {
	mb, _ := strconv.Atoi(os.Getenv("SYNCD_IMAP_BENCH_MB"))
	if mb <= 0 {
		mb = 64
	}
	benchPull(b, 1, int64(mb)<<20)
}

// BenchmarkManyAttachments pulls 200 messages with a 256 KiB attachment.
func BenchmarkManyAttachments(b *testing.B) { benchPull(b, 200, 256<<10) }
