package share_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/share"
	"github.com/syncd/syncd/connectors/share/sharetest"
)

func goneRefs(rec *connectortest.Recorder) []string {
	var out []string
	for _, g := range rec.Gones {
		if g.Under || g.Why != "deleted" || g.Name != string(g.Ref) {
			out = append(out, "bad:"+string(g.Ref))
			continue
		}
		out = append(out, string(g.Ref))
	}
	slices.Sort(out)
	return out
}

func itemRefs(rec *connectortest.Recorder) []string {
	var out []string
	for _, it := range rec.Items {
		out = append(out, string(it.Ref))
	}
	slices.Sort(out)
	return out
}

// A deleted file, a file moved to another folder and a file in a folder
// that cannot be listed this time: only the first two are gone (the
// moved one at its old path), and the third is still known next time.
func TestGoneOnSamba(t *testing.T) {
	srv, dir := startSamba(t, map[string]string{
		"keep.txt": "kept", "Finance/old.xlsx": "deleted soon", "Finance/move me.docx": "moved soon",
		"Locked/inside.txt": "not listable for a while", "Locked/Deep/also.txt": "also",
	})
	yaml := sambaYAML(t, srv, "")
	rec1, cur := connectortest.Scan(t, newSource(t, yaml), nil)
	if len(rec1.Items) != 5 || len(rec1.Gones) != 0 {
		t.Fatalf("first scan: %d items, gones %v", len(rec1.Items), rec1.Gones)
	}
	must(t, os.Remove(filepath.Join(dir, "Finance/old.xlsx")))
	must(t, os.MkdirAll(filepath.Join(dir, "Archive"), 0o777))
	must(t, os.Rename(filepath.Join(dir, "Finance/move me.docx"), filepath.Join(dir, "Archive/move me.docx")))
	must(t, os.Chmod(filepath.Join(dir, "Locked"), 0o000))
	rec2, cur2 := connectortest.Scan(t, newSource(t, yaml), cur)
	must(t, os.Chmod(filepath.Join(dir, "Locked"), 0o777))
	if got, want := goneRefs(rec2), []string{"Finance/move me.docx", "Finance/old.xlsx"}; !slices.Equal(got, want) {
		t.Errorf("second scan gone %v, want %v", got, want)
	}
	if got := itemRefs(rec2); !slices.Equal(got, []string{"Archive/move me.docx"}) {
		t.Errorf("second scan items %v, want the moved file at its new path", got)
	}
	if len(rec2.Problems) != 1 {
		t.Errorf("second scan problems %v, want the unlistable folder", rec2.Problems)
	}
	// Locked's files were kept on the path list: not gone. Their keys
	// were not, so they are listed again (the engine knows them).
	rec3, _ := connectortest.Scan(t, newSource(t, yaml), cur2)
	if len(rec3.Gones)+len(rec3.Problems) != 0 || !slices.Equal(itemRefs(rec3), []string{"Locked/Deep/also.txt", "Locked/inside.txt"}) {
		t.Errorf("third scan: items %v gones %v problems %v; want Locked's two files again and nothing gone", itemRefs(rec3), rec3.Gones, rec3.Problems)
	}
}

// Gone detection needs the path list of the version 2 cursor; a version 1
// cursor (keys only) still resumes without listing unchanged files again,
// reports nothing gone, and is replaced by a version 2 cursor.
func TestGoneFromVersion1Cursor(t *testing.T) {
	dir := t.TempDir()
	sharetest.WriteTree(t, dir, map[string]string{"a.txt": "a", "b/c.txt": "c"})
	s := newSource(t, localYAML(dir))
	_, cur := connectortest.Scan(t, s, nil)
	if n, err := share.CursorPaths(cur); err != nil || n != 2 {
		t.Fatalf("cursor %s: %d paths (%v), want 2", cur, n, err)
	}
	v1, err := share.CursorV1(cur)
	must(t, err)
	must(t, os.Remove(filepath.Join(dir, "a.txt")))
	rec, cur2 := connectortest.Scan(t, newSource(t, localYAML(dir)), v1)
	if len(rec.Items) != 0 || len(rec.Gones) != 0 {
		t.Errorf("from a v1 cursor: items %v gones %v, want none", itemRefs(rec), rec.Gones)
	}
	must(t, os.Remove(filepath.Join(dir, "b/c.txt")))
	rec, _ = connectortest.Scan(t, newSource(t, localYAML(dir)), cur2)
	if got := goneRefs(rec); !slices.Equal(got, []string{"b/c.txt"}) {
		t.Errorf("after the upgrade: gone %v, want b/c.txt", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
