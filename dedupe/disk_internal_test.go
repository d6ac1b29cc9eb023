package dedupe

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
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
		d.mu.Lock()
		d.waitSettledLocked()
		d.mu.Unlock()
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
		d.mu.Lock()
		d.waitSettledLocked()
		d.mu.Unlock()
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
