package histdb_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/history/internal/synth"
	"github.com/syncd/syncd/workspace"
)

func openCatalog(t testing.TB, name string) *workspace.Catalog {
	t.Helper()
	cat, err := workspace.Open(context.Background(), filepath.Join(t.TempDir(), name), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

// store commits sightings (and their blobs and contents) in batches.
func store(t testing.TB, cat *workspace.Catalog, in history.Input, ss []history.Sighting) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	const per = 5000
	for lo := 0; lo < len(ss); lo += per {
		b := &workspace.Batch{}
		for _, s := range ss[lo:min(lo+per, len(ss))] {
			id, err := dedupe.ParseID(s.Blob)
			if err != nil {
				t.Fatal(err)
			}
			if !seen[s.Blob] {
				seen[s.Blob] = true
				b.Blobs = append(b.Blobs, workspace.Blob{Sums: dedupe.Sums{ID: id, Size: s.Size}})
				if c := in.Contents[s.Blob]; len(c.Sketch) > 0 {
					b.Contents = append(b.Contents, workspace.Content{Blob: id, Kind: c.Kind, Tokens: c.Tokens, Sketch: c.Sketch, Modified: c.Modified, Revision: c.Revision})
				}
			}
			b.Sightings = append(b.Sightings, workspace.Sighting{Source: s.Source, Kind: s.Kind,
				Ref: strconv.FormatInt(s.ID, 10), Fingerprint: "f", Blob: id, Name: s.Name, Path: s.Path, Size: s.Size,
				Time: s.Time, Author: s.Author, Workspace: s.Workspace, Lineage: s.Lineage})
		}
		if _, err := cat.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

// scratch is what a from-scratch rebuild of the catalog's sightings gives.
func scratch(t testing.TB, cat *workspace.Catalog) []workspace.Document {
	t.Helper()
	in, err := engine.HistoryInput(context.Background(), cat)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := engine.HistoryDocuments(history.Rebuild(in))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func stored(t testing.TB, cat *workspace.Catalog) []workspace.Document {
	t.Helper()
	docs, err := cat.Documents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// sameHistory fails the test, naming the first differing document, when
// two histories differ.
func sameHistory(t testing.TB, what string, got, want []workspace.Document) {
	t.Helper()
	diff := workspace.DiffDocuments(got, want)
	if len(diff) == 0 {
		return
	}
	find := func(docs []workspace.Document, k string) *workspace.Document {
		for i := range docs {
			if docs[i].Key == k {
				return &docs[i]
			}
		}
		return nil
	}
	k := diff[0]
	t.Fatalf("%s: %d of %d documents differ; first %s:\n got  %+v\n want %+v", what, len(diff), len(want), k, find(got, k), find(want, k))
}

// TestIncrementalStore: syncing in steps and rebuilding after each stores
// exactly what one rebuild from scratch over all sightings stores, and an
// unchanged catalog writes nothing.
func TestIncrementalStore(t *testing.T) {
	ctx := context.Background()
	in, _ := synth.Generate(synth.Config{Seed: 11, Docs: 150, MaxVersions: 30})
	cat := openCatalog(t, "steps.db")
	e := &engine.Engine{Catalog: cat}
	cuts := []int{len(in.Sightings) / 3, len(in.Sightings) * 2 / 3, len(in.Sightings)}
	lo := 0
	for _, cut := range cuts {
		store(t, cat, in, in.Sightings[lo:cut])
		lo = cut
		if err := e.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		sameHistory(t, fmt.Sprintf("after %d sightings: stored history differs from a rebuild from scratch", cut),
			stored(t, cat), scratch(t, cat))
	}
	once := openCatalog(t, "once.db")
	store(t, once, in, in.Sightings)
	if err := (&engine.Engine{Catalog: once}).Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	sameHistory(t, "history synced in steps differs from history synced at once", stored(t, cat), stored(t, once))
	diff, err := cat.ReplaceHistoryDiff(ctx, scratch(t, cat))
	if err != nil {
		t.Fatal(err)
	}
	if diff.Written != 0 || diff.Removed != 0 || diff.Unchanged != diff.Documents || diff.Documents == 0 {
		t.Errorf("unchanged history rewrote documents: %+v", diff)
	}
	// Nothing new: no component is recomputed.
	st, err := e.RebuildStats(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Components != 0 || st.Diff.Written != 0 {
		t.Errorf("an unchanged catalog recomputed %d components and wrote %d documents", st.Components, st.Diff.Written)
	}
	// Every component again: the same documents, none written.
	st, err = e.RebuildStats(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Full || st.Diff.Written != 0 || st.Diff.Removed != 0 || st.Diff.Unchanged != st.Diff.Documents || st.Diff.Documents == 0 {
		t.Errorf("a full rebuild of an unchanged catalog: %+v", st)
	}
	sameHistory(t, "after a full rebuild: stored history differs from a rebuild from scratch", stored(t, cat), scratch(t, cat))
}

// TestReplaceHistoryDiff: changed, new and dropped documents are written
// and removed, the rest left alone, and sightings may move between
// documents.
func TestReplaceHistoryDiff(t *testing.T) {
	ctx := context.Background()
	in, _ := synth.Generate(synth.Config{Seed: 5, Docs: 40, MaxVersions: 10})
	cat := openCatalog(t, "diff.db")
	store(t, cat, in, in.Sightings)
	docs := scratch(t, cat)
	if _, err := cat.ReplaceHistoryDiff(ctx, docs); err != nil {
		t.Fatal(err)
	}
	next := append([]workspace.Document(nil), docs[2:]...) // two documents dropped
	changed := next[0]
	changed.Name += " (renamed)"
	changed.Versions = append([]workspace.Version(nil), changed.Versions...)
	last := &changed.Versions[len(changed.Versions)-1]
	moved := next[1].Versions[0].Sightings[0] // a sighting moves from next[1] to changed
	last.Sightings = append(append([]int64(nil), last.Sightings...), moved)
	next[0] = changed
	donor := next[1]
	donor.Versions = append([]workspace.Version(nil), donor.Versions...)
	donor.Versions[0].Sightings = donor.Versions[0].Sightings[1:]
	next[1] = donor
	diff, err := cat.ReplaceHistoryDiff(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	want := workspace.HistoryDiff{Documents: len(next), Unchanged: len(next) - 2, Written: 2, Removed: 2}
	if diff != want {
		t.Errorf("diff %+v, want %+v", diff, want)
	}
	sameHistory(t, "stored history is not what was written", stored(t, cat), next)
}

// TestScaleStore measures load, rebuild and store on a large catalog
// (HISTDB_SIGHTINGS, default 5000): a cold rebuild, one with nothing new,
// one after a sync adding 1% more sightings; then what the previous
// ReplaceHistory (delete everything, insert everything) takes on the same
// history. With HISTDB_DIR set the catalog of the first 99% is kept there
// and copied for later runs.
func TestScaleStore(t *testing.T) {
	n := 5000
	if s := os.Getenv("HISTDB_SIGHTINGS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	in, _ := synth.Generate(synth.Config{Seed: 2, Docs: max(20, n/17)})
	first := len(in.Sightings) * 99 / 100
	cat := scaleCatalog(t, in, first)
	e := &engine.Engine{Catalog: cat, Log: slog.New(slog.NewTextHandler(tlog{t}, nil))}
	for i, cut := range []int{first, first, len(in.Sightings)} {
		if i == 2 {
			store(t, cat, in, in.Sightings[first:])
		}
		start, cpu := time.Now(), cpuTime()
		if err := e.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Logf("rebuild %d over %d sightings: %v (CPU %v)", i+1, cut, time.Since(start).Round(time.Millisecond),
			(cpuTime() - cpu).Round(time.Millisecond))
	}
	docs := stored(t, cat)
	start, cpu := time.Now(), cpuTime()
	if err := replaceAll(context.Background(), cat, docs); err != nil {
		t.Fatal(err)
	}
	t.Logf("previous ReplaceHistory (delete all, insert all) of %d documents: %v (CPU %v)", len(docs),
		time.Since(start).Round(time.Millisecond), (cpuTime() - cpu).Round(time.Millisecond))
	sameHistory(t, "stored history differs from a rebuild from scratch", stored(t, cat), scratch(t, cat))
}

// scaleCatalog is a catalog holding the first sightings of in.
func scaleCatalog(t *testing.T, in history.Input, first int) *workspace.Catalog {
	dir := os.Getenv("HISTDB_DIR")
	if dir == "" {
		cat := openCatalog(t, "scale.db")
		start := time.Now()
		store(t, cat, in, in.Sightings[:first])
		t.Logf("stored %d sightings in %v", first, time.Since(start).Round(time.Millisecond))
		return cat
	}
	base := filepath.Join(dir, fmt.Sprintf("base-%d.db", len(in.Sightings)))
	if _, err := os.Stat(base); err != nil {
		cat, err := workspace.Open(context.Background(), base, workspace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store(t, cat, in, in.Sightings[:first])
		cat.Close()
	}
	work := filepath.Join(t.TempDir(), "scale.db")
	if err := exec.Command("cp", base, work).Run(); err != nil {
		t.Fatal(err)
	}
	cat, err := workspace.Open(context.Background(), work, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

// replaceAll is what ReplaceHistory did before it wrote only changes: clear
// the history tables and insert every row, statement by statement. It is
// here to measure the difference.
func replaceAll(ctx context.Context, cat *workspace.Catalog, docs []workspace.Document) error {
	tx, err := cat.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range []string{"version_sightings", "version_parents", "versions", "documents"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return err
		}
	}
	for _, d := range docs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO documents (key, workspace, folder, name) VALUES (?, ?, ?, ?)`, d.Key, d.Workspace, d.Folder, d.Name); err != nil {
			return err
		}
		for _, v := range d.Versions {
			vt := ""
			if !v.Time.IsZero() {
				vt = v.Time.UTC().Format(time.RFC3339Nano)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO versions (document_key, key, blob_id, seq, time, author) VALUES (?, ?, ?, ?, ?, ?)`,
				d.Key, v.Key, v.Blob.String(), v.Seq, vt, v.Author); err != nil {
				return err
			}
			for _, l := range v.Parents {
				if _, err := tx.ExecContext(ctx, `INSERT INTO version_parents (document_key, version_key, parent_key, reason, confidence) VALUES (?, ?, ?, ?, ?)`,
					d.Key, v.Key, l.Parent, l.Reason, l.Confidence); err != nil {
					return err
				}
			}
			for _, sid := range v.Sightings {
				if _, err := tx.ExecContext(ctx, `INSERT INTO version_sightings (sighting_id, document_key, version_key) VALUES (?, ?, ?)`, sid, d.Key, v.Key); err != nil {
					return err
				}
			}
		}
	}
	return tx.Commit()
}

// tlog writes log lines to the test log.
type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestContentsRoundTrip: sketches and save records come back from the
// catalog exactly.
func TestContentsRoundTrip(t *testing.T) {
	in, _ := synth.Generate(synth.Config{Seed: 9, Docs: 30, MaxVersions: 5, Habits: true})
	cat := openCatalog(t, "contents.db")
	store(t, cat, in, in.Sightings)
	got, err := cat.Contents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, records := 0, 0
	for blob, c := range in.Contents {
		if len(c.Sketch) == 0 {
			continue
		}
		n++
		id, _ := dedupe.ParseID(blob)
		if g := got[id]; !reflect.DeepEqual(g.Sketch, c.Sketch) || g.Tokens != c.Tokens || g.Kind != c.Kind {
			t.Fatalf("blob %s: sketch of %d values came back as %d values", blob, len(c.Sketch), len(g.Sketch))
		} else if !g.Modified.Equal(c.Modified) || g.Revision != c.Revision {
			t.Fatalf("blob %s: save record %s #%d came back as %s #%d", blob, c.Modified, c.Revision, g.Modified, g.Revision)
		}
		if !c.Modified.IsZero() {
			records++
		}
	}
	if n == 0 || len(got) != n || records == 0 {
		t.Errorf("%d contents stored (%d with a save record), %d read", n, records, len(got))
	}
}

// TestSketchText: stored sketch texts decode as encoding/json decodes them.
func TestSketchText(t *testing.T) {
	ctx := context.Background()
	cat := openCatalog(t, "sketch.db")
	texts := []string{"[]", "[1]", "[1,2,3]", "[ 1, 2 ,3 ]", "[18446744073709551615]", "[18446744073709551616]",
		"[1,]", "[,1]", "[1 2]", "[1]2]", "null", "", "[-1]", "[1.5]", "[01]", "[1e3]", "x", "[\n1,\t2\r]"}
	for i, text := range texts {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		id := dedupe.ID(sum)
		if _, err := cat.Commit(ctx, &workspace.Batch{Blobs: []workspace.Blob{{Sums: dedupe.Sums{ID: id}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := cat.DB().ExecContext(ctx, `INSERT INTO blob_content (blob_id, kind, tokens, sketch) VALUES (?, 'txt', 1, ?)`, id.String(), text); err != nil {
			t.Fatal(err)
		}
		var want []uint64
		_ = json.Unmarshal([]byte(text), &want)
		got, err := cat.ContentsOf(ctx, []dedupe.ID{id})
		if err != nil {
			t.Fatal(err)
		}
		if g := got[id].Sketch; len(g) != len(want) || len(want) > 0 && !reflect.DeepEqual(g, want) {
			t.Errorf("sketch %q decoded as %v, want %v", text, g, want)
		}
	}
}
