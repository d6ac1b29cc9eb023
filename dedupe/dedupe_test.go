package dedupe_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/dedupe/storetest"
)

func TestDiskConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dedupe.BlobStore {
		d, err := dedupe.OpenDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() }) // before the temp dir goes
		return d
	})
}

func TestMemConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) dedupe.BlobStore { return dedupe.NewMem() })
}

func TestDiskLayoutAndTempCleanup(t *testing.T) {
	dir := t.TempDir()
	d, _ := dedupe.OpenDisk(dir)
	sums, err := d.Put(context.Background(), bytes.NewReader([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	h := sums.ID.String()
	final := filepath.Join(dir, "blobs", h[:2], h)
	if ok, _ := d.Has(context.Background(), sums.ID); !ok {
		t.Fatal("new blob not visible to Has")
	}
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(final); err != nil || string(b) != "hello" {
		t.Fatalf("blob not whole at its sharded path after Flush: %q %v", b, err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(ents) != 0 {
		t.Fatalf("temp files left after a put: %d", len(ents))
	}
	old := filepath.Join(dir, "tmp", "put-123")
	os.WriteFile(old, []byte("partial"), 0o600)
	if n, err := d.CleanTemp(time.Hour); n != 0 || err != nil {
		t.Fatalf("CleanTemp removed a fresh temp file (it may belong to a running sync): %d, %v", n, err)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	if n, err := d.CleanTemp(time.Hour); n != 1 || err != nil {
		t.Fatalf("CleanTemp = %d, %v", n, err)
	}
}

// A store made before the layout file keeps its two-level layout: its
// blobs are found, new ones are filed beside them, and opening it (as a
// dry run does) writes nothing.
func TestDiskOldLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := []byte("stored by an older syncd")
	oid := dedupe.Sum(old)
	h := oid.String()
	os.MkdirAll(filepath.Join(dir, "blobs", h[:2], h[2:4]), 0o750)
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o750)
	os.WriteFile(filepath.Join(dir, "blobs", h[:2], h[2:4], h), old, 0o640)

	d, err := dedupe.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "layout")); err == nil {
		t.Fatal("opening an old store wrote a layout file")
	}
	if ok, err := d.Has(ctx, oid); !ok || err != nil {
		t.Fatalf("old blob not found: %v %v", ok, err)
	}
	sums, err := d.Put(ctx, bytes.NewReader([]byte("new")))
	if err == nil {
		err = d.Flush(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	n := sums.ID.String()
	if _, err := os.Stat(filepath.Join(dir, "blobs", n[:2], n[2:4], n)); err != nil {
		t.Fatalf("new blob not filed in the old layout: %v", err)
	}
	var walked []dedupe.ID
	d.Walk(ctx, func(i dedupe.Info) error { walked = append(walked, i.ID); return nil })
	if len(walked) != 2 {
		t.Fatalf("walk found %d blobs, want 2", len(walked))
	}

	// A new store says its layout; a layout this version does not know is
	// refused rather than misread.
	fresh := t.TempDir()
	if _, err := dedupe.OpenDisk(fresh); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(fresh, "layout"))
	if err != nil || !strings.Contains(string(b), "blob store 2") {
		t.Fatalf("layout file of a new store: %q %v", b, err)
	}
	os.WriteFile(filepath.Join(fresh, "layout"), []byte("syncd blob store 9\n"), 0o640)
	if _, err := dedupe.OpenDisk(fresh); err == nil || !strings.Contains(err.Error(), "unknown layout") {
		t.Fatalf("unknown layout accepted: %v", err)
	}
}

// Reads of blobs go on while they are made durable and moved into place.
func TestDiskReadsDuringFlush(t *testing.T) {
	ctx := context.Background()
	d, err := dedupe.OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var ids []dedupe.ID
	var data [][]byte
	for i := range 200 {
		b := bytes.Repeat([]byte{byte(i)}, 1000+i)
		s, err := d.Put(ctx, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		ids, data = append(ids, s.ID), append(data, b)
	}
	done := make(chan error, 1)
	go func() { done <- d.Flush(ctx) }()
	for round := 0; ; round++ {
		for i, id := range ids {
			rc, err := d.Open(ctx, id)
			if err != nil {
				t.Fatalf("round %d: open blob %d during flush: %v", round, i, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data[i]) {
				t.Fatalf("round %d: blob %d read %d bytes, %v", round, i, len(got), err)
			}
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return
		default:
		}
	}
}

func TestIDParse(t *testing.T) {
	id := dedupe.Sum([]byte("x"))
	back, err := dedupe.ParseID(id.String())
	if err != nil || back != id {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"", "abc", id.String()[:63] + "g", id.String() + "00"} {
		if _, err := dedupe.ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
	// quickXorHash test vectors (from the OneDrive documentation via rclone).
	for in, want := range map[string]string{"": "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "J": "SgAAAAAAAAAAAAAAAQAAAAAAAAA="} {
		s, _ := dedupe.HashReader(bytes.NewReader([]byte(in)))
		if s.QuickXor != want {
			t.Errorf("quickxor(%q) = %s, want %s", in, s.QuickXor, want)
		}
	}
}

func FuzzDiskRoundTrip(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("hello world"))
	f.Add(bytes.Repeat([]byte{0}, 70000))
	dir := f.TempDir()
	d, err := dedupe.OpenDisk(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() }) // before the temp dir goes
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := d.Put(context.Background(), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if sums.ID != dedupe.Sum(data) || sums.Size != int64(len(data)) {
			t.Fatalf("sums %+v for %d bytes", sums, len(data))
		}
		rc, err := d.Open(context.Background(), sums.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		got.ReadFrom(rc)
		rc.Close()
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatal("round trip changed the bytes")
		}
	})
}

// Puts and Flushes from many goroutines at once (a job's sources share the
// store): every blob is whole and in place after the last Flush.
func TestDiskConcurrentPutsAndFlushes(t *testing.T) {
	ctx := context.Background()
	d, err := dedupe.OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 60
	ids := make(chan dedupe.ID, writers*each)
	done := make(chan struct{})
	flushed := make(chan error, 1)
	go func() {
		var err error
		for {
			select {
			case <-done:
				flushed <- err
				return
			default:
			}
			if e := d.Flush(ctx); e != nil && err == nil {
				err = e
			}
		}
	}()
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				s, err := d.Put(ctx, strings.NewReader(strings.Repeat("x", w*each+i+1)))
				if err != nil {
					errs <- err
					return
				}
				ids <- s.ID
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	close(ids)
	n := 0
	for id := range ids {
		n++
		if _, err := os.Stat(d.Path(id)); err != nil {
			t.Fatalf("blob %s not in place after the last Flush: %v", id.Short(), err)
		}
	}
	if n != writers*each {
		t.Fatalf("%d blobs, want %d", n, writers*each)
	}
}
