package dedupe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Flush must sync every directory whose entries a Put changed: the blob's
// directory, and the parent of each directory Put created.
func TestPutMarksChangedDirectories(t *testing.T) {
	ctx := context.Background()
	for _, nested := range []bool{false, true} {
		dir := t.TempDir()
		d, err := OpenDisk(dir)
		if err != nil {
			t.Fatal(err)
		}
		d.nested = nested
		s, err := d.Put(ctx, bytes.NewReader([]byte("first")))
		if err != nil {
			t.Fatal(err)
		}
		d.settlePending()
		blobDir := filepath.Dir(d.path(s.ID))
		want := map[string]bool{blobDir: true, filepath.Dir(blobDir): true}
		if nested {
			want[filepath.Dir(filepath.Dir(blobDir))] = true
		}
		if !equalSets(d.dirty, want) {
			t.Fatalf("nested=%v: dirty after a put into new directories = %v, want %v", nested, d.dirty, want)
		}
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if len(d.dirty) != 0 {
			t.Fatalf("dirty after Flush: %v", d.dirty)
		}
		// The same content again: nothing new, but its directory is synced
		// once more (the entry may come from a process killed before its
		// Flush).
		if _, err := d.Put(ctx, bytes.NewReader([]byte("first"))); err != nil {
			t.Fatal(err)
		}
		d.settlePending()
		if !equalSets(d.dirty, map[string]bool{blobDir: true}) {
			t.Fatalf("dirty after a duplicate put = %v", d.dirty)
		}
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// Blobs settle in groups without a Flush: when enough are queued, and when
// the first of a group has waited long enough.
func TestPendingBlobsSettleWithoutFlush(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		limit groupLimits
		puts  int
	}{
		{"count", groupLimits{count: 3, bytes: 1 << 40, after: time.Hour}, 3},
		{"bytes", groupLimits{count: 1000, bytes: 10, after: time.Hour}, 2},
		{"age", groupLimits{count: 1000, bytes: 1 << 40, after: time.Millisecond}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := OpenDisk(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			d.group = tc.limit
			var ids []ID
			for i := range tc.puts {
				s, err := d.Put(ctx, bytes.NewReader([]byte(fmt.Sprintf("blob %d", i))))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, s.ID)
			}
			expired := false
			watchdog := time.AfterFunc(time.Minute, func() {
				d.mu.Lock()
				expired = true
				d.settled.Broadcast()
				d.mu.Unlock()
			})
			defer watchdog.Stop()
			d.mu.Lock()
			for len(d.pending) > 0 && !expired {
				d.settled.Wait()
			}
			queued, pending := len(d.queue), len(d.pending)
			d.mu.Unlock()
			if pending != 0 {
				t.Fatalf("%d blobs still pending after a minute without Flush", pending)
			}
			if queued != 0 {
				t.Fatalf("%d blobs still queued", queued)
			}
			for _, id := range ids {
				if _, err := os.Stat(d.path(id)); err != nil {
					t.Fatalf("blob %s not in place: %v", id.Short(), err)
				}
			}
		})
	}
}

// Below the limits a blob stays queued until Flush, which settles it.
func TestFlushSettlesTheQueue(t *testing.T) {
	ctx := context.Background()
	d, err := OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d.group = groupLimits{count: 1000, bytes: 1 << 40, after: time.Hour}
	s, err := d.Put(ctx, bytes.NewReader([]byte("queued")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path(s.ID)); err == nil {
		t.Fatal("blob settled before Flush with limits not reached")
	}
	if has, err := d.Has(ctx, s.ID); err != nil || !has {
		t.Fatalf("queued blob: Has = %v, %v", has, err)
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path(s.ID)); err != nil {
		t.Fatalf("blob not in place after Flush: %v", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) != 0 || len(d.queue) != 0 || d.timer != nil {
		t.Fatalf("after Flush: pending %d, queued %d, timer %v", len(d.pending), len(d.queue), d.timer != nil)
	}
}
