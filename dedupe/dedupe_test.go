package dedupe_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
	final := filepath.Join(dir, "blobs", h[:2], h[2:4], h)
	if _, err := os.Stat(final); err == nil {
		t.Fatal("blob in place before Flush: it must stay pending until made durable")
	}
	if ok, _ := d.Has(context.Background(), sums.ID); !ok {
		t.Fatal("pending blob not visible to Has")
	}
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(final); err != nil {
		t.Fatalf("blob not at its sharded path: %v", err)
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
