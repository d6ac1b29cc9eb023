package scale

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

func TestPopulate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Populate(ctx, dir, Spec{Sightings: 1003, PerBlob: 4, Versions: 3, Batch: 100})
	if err != nil {
		t.Fatal(err)
	}
	if st.Sightings != 1003 || st.Blobs != 251 {
		t.Fatalf("stats %+v, want 1003 sightings of 251 blobs", st)
	}
	cat, err := workspace.Open(ctx, filepath.Join(dir, "catalog.db"), workspace.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	got, err := cat.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sightings != 1003 || got.Blobs != 251 || got.BlobBytes != st.BlobBytes {
		t.Fatalf("catalog has %+v, populate said %+v", got, st)
	}
	probs, err := cat.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		// History is rebuilt by the first sync, not by Populate.
		if !strings.Contains(p, "belongs to no version") {
			t.Fatalf("catalog check: %s", p)
		}
	}
	disk, err := dedupe.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files int
	err = cat.EachBlob(ctx, func(b workspace.BlobRecord) error {
		f, err := os.Open(disk.Path(b.Sums.ID))
		if err != nil {
			return err
		}
		defer f.Close()
		sums, err := dedupe.HashReader(f)
		if err != nil {
			return err
		}
		if sums != b.Sums || b.Refs == 0 {
			t.Errorf("blob %s: on disk %+v, refs %d", b.Sums.ID, sums, b.Refs)
		}
		files++
		return nil
	})
	if err != nil || files != 251 {
		t.Fatalf("%d blob files checked: %v", files, err)
	}
}

func TestPopulateRefusesAnEmptySpec(t *testing.T) {
	if _, err := Populate(context.Background(), t.TempDir(), Spec{Sightings: 10}); err == nil {
		t.Fatal("a spec without PerBlob/Versions/Batch was accepted")
	}
}

// BenchmarkPopulate: go test -run X -bench Populate -benchtime 1x ./bench/internal/scale/
func BenchmarkPopulate(b *testing.B) {
	for b.Loop() {
		if _, err := Populate(context.Background(), b.TempDir(), Spec{Sightings: 40000, PerBlob: 4, Versions: 4, Batch: 5000}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTouch: a new version of every hundredth document, seen PerBlob times.
func TestTouch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	spec := Spec{Sightings: 2400, PerBlob: 4, Versions: 3, Batch: 100}
	if _, err := Populate(ctx, dir, spec); err != nil {
		t.Fatal(err)
	}
	st, err := Touch(ctx, dir, Spec{PerBlob: 4, Versions: 3, Batch: 100}, 200, 1) // documents 0 and 100
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 2 || st.Sightings != 8 {
		t.Fatalf("touch wrote %+v, want 8 sightings of 2 blobs", st)
	}
	cat, err := workspace.Open(ctx, filepath.Join(dir, "catalog.db"), workspace.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	got, err := cat.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sightings != 2408 || got.Blobs != 602 {
		t.Fatalf("catalog after the touch: %+v", got)
	}
	cat.Close()
	// A second round brings new content again, not the first one's.
	st, err = Touch(ctx, dir, Spec{PerBlob: 4, Versions: 3, Batch: 100}, 200, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 2 || st.Sightings != 8 {
		t.Fatalf("second touch wrote %+v, want 8 sightings of 2 blobs", st)
	}
	cat, err = workspace.Open(ctx, filepath.Join(dir, "catalog.db"), workspace.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err = cat.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Sightings != 2416 || got.Blobs != 604 {
		t.Fatalf("catalog after the second touch: %+v", got)
	}
}
