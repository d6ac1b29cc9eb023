package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// treeDoc is a document for the tree export tests: its versions' contents.
type treeDoc struct {
	folder, name string
	contents     []string
}

// makeDocs stores every content in blobs and returns the documents, keyed
// d00, d01... in the order given.
func makeDocs(t testing.TB, blobs dedupe.BlobStore, specs []treeDoc) []workspace.Document {
	t.Helper()
	var docs []workspace.Document
	for i, s := range specs {
		d := workspace.Document{Key: fmt.Sprintf("d%02d", i), Workspace: "ws", Folder: s.folder, Name: s.name}
		for j, c := range s.contents {
			sums, err := blobs.Put(context.Background(), strings.NewReader(c))
			if err != nil {
				t.Fatal(err)
			}
			d.Versions = append(d.Versions, workspace.Version{Key: fmt.Sprintf("d%02d-v%d", i, j+1), Blob: sums.ID, Seq: j + 1,
				Time: time.Date(2024, 1, 1+j, 9, 0, 0, 0, time.UTC)})
		}
		docs = append(docs, d)
	}
	return docs
}

func writeTree(t testing.TB, docs []workspace.Document, blobs dedupe.BlobStore, dir string) engine.TreeStats {
	t.Helper()
	st, err := engine.WriteTree(context.Background(), docs, map[int64]string{}, blobs, dir)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if len(st.Problems) > 0 {
		t.Fatalf("export problems: %q", st.Problems)
	}
	return st
}

func readManifest(t testing.TB, dir string) []engine.ManifestEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ws", engine.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var mf []engine.ManifestEntry
	if err := json.Unmarshal(b, &mf); err != nil {
		t.Fatal(err)
	}
	return mf
}

// digestTree is path -> content hash (or link target, or "dir") of every
// entry under dir, symlinks not followed.
func digestTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "link " + l
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func sameDigest(a, b map[string]string) string {
	var diff []string
	for k, v := range a {
		if b[k] != v {
			diff = append(diff, fmt.Sprintf("%q: %q -> %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			diff = append(diff, fmt.Sprintf("%q: new %q", k, v))
		}
	}
	sort.Strings(diff)
	return strings.Join(diff, "\n")
}

// checkExported asserts every version of docs is in the manifest exactly
// once, at a file holding its bytes, and that the workspace holds no other
// exported file.
func checkExported(t testing.TB, docs []workspace.Document, dir string) {
	t.Helper()
	mf := readManifest(t, dir)
	want := map[string]string{}
	for _, d := range docs {
		for _, v := range d.Versions {
			want[v.Key] = v.Blob.String()
		}
	}
	got := map[string]bool{}
	paths := map[string]bool{}
	for _, e := range mf {
		if got[e.Version] {
			t.Errorf("version %s exported twice", e.Version)
		}
		got[e.Version] = true
		if want[e.Version] != e.SHA256 {
			t.Errorf("version %s: manifest sha %s, want %s", e.Version, e.SHA256, want[e.Version])
		}
		if paths[strings.ToLower(e.Path)] {
			t.Errorf("two entries at %q (case-insensitively)", e.Path)
		}
		paths[strings.ToLower(e.Path)] = true
		p := filepath.Join(dir, "ws", filepath.FromSlash(e.Path))
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("version %s: %s is not a regular file (%v)", e.Version, e.Path, err)
			continue
		}
		b, _ := os.ReadFile(p)
		if fmt.Sprintf("%x", sha256.Sum256(b)) != e.SHA256 {
			t.Errorf("version %s: %s does not hold its bytes", e.Version, e.Path)
		}
		for _, seg := range strings.Split(e.Path, "/") {
			if len(seg) > 255 {
				t.Errorf("%s: a name of %d bytes", e.Path, len(seg))
			}
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("version %s not exported", k)
		}
	}
	files := 0
	filepath.WalkDir(filepath.Join(dir, "ws"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != engine.ManifestName {
			files++
		}
		return nil
	})
	if files != len(want) {
		t.Errorf("%d files in the workspace folder, want %d (one per version)", files, len(want))
	}
}

// A mailed attachment named like the export's manifest, whose content
// names a file outside the export, must be exported as a document under
// another name, and nothing outside is removed (issue 15, item 1).
func TestTreeManifestNamedAttachmentRemovesNothing(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim.txt")
	os.WriteFile(victim, []byte("keep me"), 0o644)
	dir := filepath.Join(base, "a", "exp") // ws/../../victim.txt is base/victim.txt... and a/victim.txt
	victim2 := filepath.Join(base, "a", "victim.txt")
	os.MkdirAll(filepath.Dir(victim2), 0o755)
	os.WriteFile(victim2, []byte("keep me too"), 0o644)
	blobs := dedupe.NewMem()
	evil := `[{"path":"../../victim.txt"},{"path":"../victim.txt"}]`
	docs := makeDocs(t, blobs, []treeDoc{
		{name: engine.ManifestName, contents: []string{evil}},
		{name: "report.docx", contents: []string{"one", "two"}},
	})
	for i := 0; i < 2; i++ {
		writeTree(t, docs, blobs, dir)
	}
	for _, v := range []string{victim, victim2} {
		if _, err := os.Stat(v); err != nil {
			t.Fatalf("export removed %s outside its folder: %v", v, err)
		}
	}
	checkExported(t, docs, dir)
	for _, e := range readManifest(t, dir) {
		if e.Name == engine.ManifestName && (!e.Renamed || e.Path == engine.ManifestName) {
			t.Errorf("the attachment is at %q renamed=%v: want another name and the manifest saying so", e.Path, e.Renamed)
		}
	}
}

// A hand-edited manifest naming files outside the folder, absolute paths,
// or a file someone else put there never removes them.
func TestTreeEditedManifestRemovesOnlyOwnFiles(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "exp")
	blobs := dedupe.NewMem()
	docs := makeDocs(t, blobs, []treeDoc{{name: "a.txt", contents: []string{"a1", "a2"}}, {name: "b.txt", contents: []string{"b"}}})
	writeTree(t, docs, blobs, dir)
	victim := filepath.Join(base, "victim.txt")
	os.WriteFile(victim, []byte("victim"), 0o644)
	theirs := filepath.Join(dir, "ws", "theirs.txt")
	os.WriteFile(theirs, []byte("a colleague's notes"), 0o644)
	mf := readManifest(t, dir)
	vsum := fmt.Sprintf("%x", sha256.Sum256([]byte("victim")))
	mf = append(mf,
		engine.ManifestEntry{Path: "../../victim.txt", SHA256: vsum},
		engine.ManifestEntry{Path: "../victim.txt", SHA256: vsum},
		engine.ManifestEntry{Path: victim, SHA256: vsum},
		engine.ManifestEntry{Path: "theirs.txt", SHA256: vsum},
	)
	b, _ := json.Marshal(mf)
	os.WriteFile(filepath.Join(dir, "ws", engine.ManifestName), b, 0o644)
	// The next export has one document fewer: its own stale file goes.
	st := writeTree(t, docs[:1], blobs, dir)
	for _, p := range []string{victim, theirs} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("export removed %s: %v", p, err)
		}
	}
	if st.Removed != 1 {
		t.Errorf("removed %d files, want 1 (b.txt)", st.Removed)
	}
	if _, err := os.Stat(filepath.Join(dir, "ws", "b.txt")); err == nil {
		t.Error("the export's own stale file was not removed")
	}
}

// Replacing a folder of the export with a symlink (to outside, or to
// another folder inside) must not make the next export write through it.
func TestTreeSymlinkedFolderIsNotFollowed(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "exp")
	outside := filepath.Join(base, "outside")
	os.MkdirAll(outside, 0o755)
	blobs := dedupe.NewMem()
	docs := makeDocs(t, blobs, []treeDoc{
		{folder: "Finance/2024", name: "budget.xlsx", contents: []string{"b1", "b2"}},
		{folder: "HR", name: "plan.docx", contents: []string{"p1"}},
	})
	writeTree(t, docs, blobs, dir)
	fin := filepath.Join(dir, "ws", "Finance")
	if err := os.RemoveAll(fin); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, fin); err != nil {
		t.Fatal(err)
	}
	hr := filepath.Join(dir, "ws", "HR")
	os.RemoveAll(hr)
	os.Symlink("Finance", hr) // inside, pointing at the outside link
	before := digestTree(t, outside)
	st := writeTree(t, docs, blobs, dir)
	if d := sameDigest(before, digestTree(t, outside)); d != "" {
		t.Fatalf("export wrote outside its folder:\n%s", d)
	}
	if st.Kept != 2 {
		t.Errorf("kept %d things aside, want the 2 symlinks", st.Kept)
	}
	checkExported(t, docs, dir)
	if l, err := os.Readlink(filepath.Join(dir, engine.KeptDir, "ws", "Finance")); err != nil || l != outside {
		t.Errorf("the symlink was not kept aside: %q %v", l, err)
	}
}

// A file someone edited in the export, or put where the export writes, is
// moved aside, never overwritten; a second export then changes nothing.
func TestTreeKeepsFilesInTheWay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "exp")
	blobs := dedupe.NewMem()
	docs := makeDocs(t, blobs, []treeDoc{{name: "a.txt", contents: []string{"a1", "a2"}}, {name: "b.txt", contents: []string{"b"}}})
	os.MkdirAll(filepath.Join(dir, "ws", "b.txt"), 0o755) // a folder in the way
	os.WriteFile(filepath.Join(dir, "ws", "b.txt", "x"), []byte("x"), 0o644)
	writeTree(t, docs, blobs, dir)
	os.WriteFile(filepath.Join(dir, "ws", "a.txt"), []byte("edited by hand"), 0o644)
	st := writeTree(t, docs, blobs, dir)
	if st.Kept != 1 || st.Written != 1 {
		t.Errorf("second export: %+v, want the edited file kept aside and rewritten", st)
	}
	checkExported(t, docs, dir)
	for p, want := range map[string]string{"ws/a.txt": "edited by hand", "ws/b.txt/x": "x"} {
		if b, err := os.ReadFile(filepath.Join(dir, engine.KeptDir, filepath.FromSlash(p))); err != nil || string(b) != want {
			t.Errorf("kept %s: %q %v", p, b, err)
		}
	}
	before := digestTree(t, dir)
	st = writeTree(t, docs, blobs, dir)
	if d := sameDigest(before, digestTree(t, dir)); d != "" || st.Written+st.Kept+st.Removed != 0 {
		t.Errorf("third export changed things: %+v\n%s", st, d)
	}
}

// Names that used to abort the whole export (issue 15, item 2): a document
// named .versions beside one with older versions, a name of 240 bytes with
// versions, names that sanitise alike, reserved names. Every version is
// exported exactly once, deterministically whatever the input order.
func TestTreeEveryNameIsExported(t *testing.T) {
	long := strings.Repeat("Quarterly budget review ", 10)[:236] + ".xlsx"
	specs := []treeDoc{
		{name: ".versions", contents: []string{"dot versions"}},
		{name: "report.docx", contents: []string{"r1", "r2", "r3"}},
		{name: long, contents: []string{"l1", "l2"}},
		{name: long[:200] + "X" + long[201:], contents: []string{"m1", "m2"}},
		{name: ".", contents: []string{"dot"}},
		{name: "..", contents: []string{"dotdot"}},
		{folder: "..", name: "unnamed", contents: []string{"in dotdot"}},
		{name: "CON", contents: []string{"con"}},
		{name: "nul.txt", contents: []string{"nul"}},
		{name: "COM1.tar.gz", contents: []string{"com1"}},
		{name: "trailing. . ", contents: []string{"trailing"}},
		{name: "Caf\u00e9.txt", contents: []string{"nfc"}},
		{name: "Cafe\u0301.txt", contents: []string{"nfd"}},
		{name: "REPORT.DOCX", contents: []string{"upper"}},
		{name: "x", contents: []string{"file x"}},
		{folder: "x", name: "inside.txt", contents: []string{"folder x"}},
		{name: strings.Repeat("\u00e9", 2048), contents: []string{"4k", "4k2"}},
		{name: ".syncd-kept", contents: []string{"kept"}},
		{folder: ".versions/.syncd-tmp-x", name: "deep.txt", contents: []string{"deep"}},
	}
	blobs := dedupe.NewMem()
	docs := makeDocs(t, blobs, specs)
	dir := filepath.Join(t.TempDir(), "exp")
	writeTree(t, docs, blobs, dir)
	checkExported(t, docs, dir)
	first, _ := os.ReadFile(filepath.Join(dir, "ws", engine.ManifestName))

	// The same documents in reverse order give the same tree.
	rev := append([]workspace.Document(nil), docs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	dir2 := filepath.Join(t.TempDir(), "exp")
	writeTree(t, rev, blobs, dir2)
	second, _ := os.ReadFile(filepath.Join(dir2, "ws", engine.ManifestName))
	if string(first) != string(second) {
		t.Error("the tree depends on the order documents were given in")
	}
	if d := sameDigest(digestTree(t, dir), digestTree(t, dir2)); d != "" {
		t.Errorf("trees differ:\n%s", d)
	}
}

// A damaged blob fails its file with an error naming the document, version
// and blob; the rest is exported (issue 14, item 6).
func TestTreeDamagedBlobFailsOnlyItsFile(t *testing.T) {
	ctx := context.Background()
	store, err := dedupe.OpenDisk(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	docs := makeDocs(t, store, []treeDoc{{name: "a.txt", contents: []string{"a1", "a2"}}, {name: "b.txt", contents: []string{"b"}}})
	if err := store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	bad := docs[0].Versions[0]
	if err := os.WriteFile(store.Path(bad.Blob), []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "exp")
	st, err := engine.WriteTree(ctx, docs, nil, store, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "d00") || !strings.Contains(st.Problems[0], bad.Key) ||
		!strings.Contains(st.Problems[0], bad.Blob.String()) || !strings.Contains(st.Problems[0], "damaged") {
		t.Fatalf("problems %q: want one naming document d00, version %s and blob %s", st.Problems, bad.Key, bad.Blob)
	}
	if st.Files != 2 {
		t.Errorf("exported %d files, want the 2 undamaged ones", st.Files)
	}
	for _, e := range readManifest(t, dir) {
		if e.Version == bad.Key {
			t.Error("the damaged version is in the manifest")
		}
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".syncd-tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}
