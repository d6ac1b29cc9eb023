package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
	"github.com/syncd/syncd/workspace/historytest"
)

// storeDocs stores docs (their contents already in blobs) in a new
// catalog: a blob row and one share sighting per version (the version's
// sighting ids are replaced by it), then the history.
func storeDocs(t *testing.T, blobs dedupe.BlobStore, docs []workspace.Document) *workspace.Catalog {
	t.Helper()
	ctx := context.Background()
	cat, err := workspace.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	run, err := cat.StartRun(ctx, "job", "sync")
	if err != nil {
		t.Fatal(err)
	}
	b := &workspace.Batch{RunID: run}
	for _, d := range docs {
		for _, v := range d.Versions {
			rc, err := blobs.Open(ctx, v.Blob)
			if err != nil {
				t.Fatal(err)
			}
			sums, err := dedupe.HashReader(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			b.Blobs = append(b.Blobs, workspace.Blob{Sums: sums, Sketched: true})
			b.Sightings = append(b.Sightings, workspace.Sighting{Source: "drive", Kind: "share", Ref: d.Key + "/" + v.Key, Fingerprint: "f",
				Blob: v.Blob, Name: d.Name, Path: d.Folder, Size: sums.Size, Time: v.Time, Workspace: d.Workspace, Folder: d.Folder,
				RunID: run, Lineage: connectors.Lineage{Kind: "share"}})
		}
	}
	if _, err := cat.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	if err := cat.EachSighting(ctx, func(s workspace.Sighting) error { ids[s.Ref] = s.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	stored := make([]workspace.Document, len(docs))
	for i, d := range docs {
		d.Versions = append([]workspace.Version(nil), d.Versions...)
		for j := range d.Versions {
			d.Versions[j].Sightings = []int64{ids[d.Key+"/"+d.Versions[j].Key]}
		}
		stored[i] = d
	}
	if err := cat.ReplaceHistory(ctx, stored); err != nil {
		t.Fatal(err)
	}
	return cat
}

// namedDocs are documents of workspace ws, one per name, in folders
// taken in turn, with 1-3 versions: as FuzzTreeExport builds them.
func namedDocs(t *testing.T, blobs dedupe.BlobStore, ws string, names, folders []string) []workspace.Document {
	t.Helper()
	var docs []workspace.Document
	for i, n := range names {
		d := workspace.Document{Key: fmt.Sprintf("%s-d%02d", ws, i), Workspace: ws, Folder: folders[i%len(folders)], Name: n}
		for j := 0; j <= i%3; j++ {
			sums, err := blobs.Put(context.Background(), strings.NewReader(fmt.Sprintf("%s document %d version %d", ws, i, j)))
			if err != nil {
				t.Fatal(err)
			}
			d.Versions = append(d.Versions, workspace.Version{Key: fmt.Sprintf("%s-d%02d-v%d", ws, i, j+1), Blob: sums.ID, Seq: j + 1,
				Time: time.Date(2024, 1, 1+j, 9, 0, 0, 0, time.UTC)})
		}
		docs = append(docs, d)
	}
	return docs
}

// treeFiles walks an export: every file (the manifests aside) with its
// content's SHA-256, and every folder, by path under dir.
func treeFiles(t *testing.T, dir string) (files map[string]string, dirs map[string]bool) {
	t.Helper()
	files, dirs = map[string]string{}, map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
		case d.IsDir():
			dirs[rel] = true
		case d.Type().IsRegular():
			if path.Base(rel) == ManifestName && strings.Count(rel, "/") == 1 {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
			files[rel] = hex.EncodeToString(h.Sum(nil))
		default:
			t.Errorf("export holds %s of mode %v", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, dirs
}

// viewFiles walks the catalog's workspaces through TreeFolders from each
// workspace's folder down, as a WebDAV client would: the files with their
// SHA-256, and the folders (.versions and .versions/<name> derived from
// the files' paths), by path under the export folder.
func viewFiles(t *testing.T, cat *workspace.Catalog) (files map[string]string, dirs map[string]bool) {
	t.Helper()
	ctx := context.Background()
	files, dirs = map[string]string{}, map[string]bool{}
	wss, err := cat.DocumentWorkspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range TreeWorkspaceNames(wss) {
		dirs[name] = true
		tf, err := ReadTreeFolders(ctx, cat, wss[i])
		if err != nil {
			t.Fatal(err)
		}
		var walk func(dir string)
		walk = func(dir string) {
			l, ok, err := tf.Listing(ctx, dir)
			if err != nil || !ok {
				t.Fatalf("workspace %q folder %q: ok=%v %v", wss[i], dir, ok, err)
			}
			if l.Path != dir {
				t.Errorf("folder %q is spelled %q in its listing", dir, l.Path)
			}
			if dir != "" {
				dirs[name+"/"+dir] = true
			}
			for _, e := range l.Files {
				rel := e.Path
				if l.Path != "" {
					var ok bool
					if rel, ok = strings.CutPrefix(e.Path, l.Path+"/"); !ok {
						t.Errorf("folder %q lists %q", l.Path, e.Path)
						continue
					}
				}
				// Only the latest file is in the folder itself; the
				// others are in .versions/<latest name>/.
				if segs := strings.Split(rel, "/"); e.Latest != (len(segs) == 1) || (!e.Latest && (len(segs) != 3 || segs[0] != VersionsDir)) {
					t.Errorf("folder %q lists %q (latest %v)", l.Path, e.Path, e.Latest)
				}
				if _, dup := files[name+"/"+e.Path]; dup {
					t.Errorf("%s/%s listed twice", name, e.Path)
				}
				files[name+"/"+e.Path] = e.SHA256
				for d := path.Dir(e.Path); d != l.Path && d != "."; d = path.Dir(d) {
					dirs[name+"/"+d] = true
				}
			}
			for _, sub := range l.Folders {
				walk(path.Join(l.Path, sub))
			}
		}
		walk("")
	}
	return files, dirs
}

func diffSets[V comparable](what string, want, got map[string]V) []string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			out = append(out, fmt.Sprintf("%s %q: exported, not in the view", what, k))
		} else if g != v {
			out = append(out, fmt.Sprintf("%s %q: exported %v, view %v", what, k, v, g))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s %q: in the view, not exported", what, k))
		}
	}
	sort.Strings(out)
	return out
}

// TestTreeViewIsTheExport: for catalogs with hostile names (the tree
// tests' fixtures: names and folders that collide case-insensitively or
// once made safe, reserved names, .versions, long names, control and
// bidi characters, path tricks), walking TreeFolders from each
// workspace's folder gives exactly the files (path and content) and
// folders ExportTree writes.
func TestTreeViewIsTheExport(t *testing.T) {
	long := strings.Repeat("Quarterly budget review ", 10)[:236] + ".xlsx"
	// FuzzTreeExport's seeds: names, folders (one per line).
	seeds := [][2]string{
		{".syncd-manifest.json\nreport.docx", ""},
		{".versions\nreport.docx\n.versions", "\n\n.versions"},
		{long + "\n" + long[:100] + "\n" + strings.Repeat("\u00e9", 2100), ""},
		{".\n..\nunnamed\n\\..\\..\\x", "..\n../..\n\\"},
		{"CON\nnul.txt\nCOM1.tar.gz\nLPT9\ntrailing. . \nconin$", "AUX\nprn.d"},
		{"Caf\u00e9.txt\nCafe\u0301.txt\nCAFÉ.TXT\ncafé.txt", "Dept\ndept\nDEPT"},
		{"a/b\\c.txt\n../../etc/passwd\n/etc/shadow", "/abs/olute\nC:\\Windows"},
		{"evil\x1b]0;t\x07\r\u202etxt.exe\nnul\xff\xfe", "\x01\x7f"},
		{"x\nx (2)\nx", "x\nx (2)"},
		{".syncd-kept\n.syncd-tmp-0\n.SYNCD-MANIFEST.JSON", ".syncd-kept\n.versions/.syncd-tmp-x"},
		// The web interface's fixture's names.
		{"<script>alert(1)</script>.docx\n\"><img src=x onerror=alert(1)>'.pdf\n100%_done.txt\n100 done.txt\nBudget 2026.xlsx\nbudget 2026.XLSX",
			"<b>bold</b>/x\"y\nBudgets/2026\nbudgets\nOdd\n<B>BOLD</B>/x_y/deeper"},
	}
	cases := map[string]func(t *testing.T, blobs *dedupe.Mem) *workspace.Catalog{
		"tricky": func(t *testing.T, blobs *dedupe.Mem) *workspace.Catalog {
			return storeDocs(t, blobs, trickyDocs(t, blobs))
		},
		"fuzz seeds": func(t *testing.T, blobs *dedupe.Mem) *workspace.Catalog {
			var docs []workspace.Document
			for i, s := range seeds {
				// Workspaces that collide once made safe, too.
				ws := []string{"ws", "WS", "w:s", "w_s", "CON"}[i%5] + fmt.Sprint(i/5)
				docs = append(docs, namedDocs(t, blobs, ws, strings.Split(s[0], "\n"), strings.Split(s[1], "\n"))...)
			}
			return storeDocs(t, blobs, docs)
		},
		"history": func(t *testing.T, blobs *dedupe.Mem) *workspace.Catalog {
			cat, err := workspace.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), workspace.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cat.Close() })
			historytest.Fill(t, cat, 120, blobs)
			return cat
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			blobs := dedupe.NewMem()
			cat := mk(t, blobs)
			dir := t.TempDir()
			st, err := ExportTree(ctx, cat, blobs, dir)
			if err != nil || len(st.Problems) > 0 || st.Files == 0 {
				t.Fatalf("export: %v %+v", err, st)
			}
			wantFiles, wantDirs := treeFiles(t, dir)
			gotFiles, gotDirs := viewFiles(t, cat)
			if len(wantFiles) != st.Files {
				t.Fatalf("walked %d exported files, the export wrote %d", len(wantFiles), st.Files)
			}
			d := append(diffSets("file", wantFiles, gotFiles), diffSets("folder", wantDirs, gotDirs)...)
			if len(d) > 0 {
				t.Fatalf("the view differs from the export (%d files exported):\n%s", len(wantFiles), strings.Join(d, "\n"))
			}
		})
	}
}

// TestTreeFolderFinds: folders are found case-insensitively and spelled
// as exported; a file, a .versions folder or a missing folder is no
// folder; the workspace's folder always is.
func TestTreeFolderFinds(t *testing.T) {
	ctx := context.Background()
	blobs := dedupe.NewMem()
	docs := namedDocs(t, blobs, "ws", []string{"a.txt", "b.txt", "c.txt", "d.txt"}, []string{"Finance/2024", "finance", "HR", "r&d/<x>"})
	cat := storeDocs(t, blobs, docs)
	for dir, want := range map[string]string{"": "", "/": "", "FINANCE": "Finance", "finance/2024/": "Finance/2024", "hr": "HR", "R&D/_X_": "r&d/_x_", "r&d": "r&d"} {
		l, ok, err := TreeFolder(ctx, cat, "ws", dir)
		if err != nil || !ok || l.Path != want {
			t.Errorf("TreeFolder(%q) = %q ok=%v %v, want %q", dir, l.Path, ok, err, want)
		}
	}
	for _, dir := range []string{"Finance/b.txt", "Finance/.versions", "nope", "Finance/2024/x", "..", "r&d/<x>"} {
		if l, ok, err := TreeFolder(ctx, cat, "ws", dir); err != nil || ok {
			t.Errorf("TreeFolder(%q) = %+v ok=%v %v, want no folder", dir, l, ok, err)
		}
	}
	l, _, _ := TreeFolder(ctx, cat, "ws", "finance")
	if strings.Join(l.Folders, ",") != "2024" || len(l.Files) != 2 || l.Files[0].Path != "Finance/.versions/b.txt/001 2024-01-01 b.txt" || l.Files[1].Path != "Finance/b.txt" || !l.Files[1].Latest {
		t.Errorf("Finance: %+v", l)
	}
	if l, ok, err := TreeFolder(ctx, cat, "ws", "r&d"); err != nil || !ok || len(l.Files) != 0 || strings.Join(l.Folders, ",") != "_x_" {
		t.Errorf("a folder on the way to another: %+v ok=%v %v", l, ok, err)
	}
	if l, ok, err := TreeFolder(ctx, cat, "nowhere", ""); err != nil || !ok || len(l.Files)+len(l.Folders) != 0 {
		t.Errorf("an unknown workspace's folder: %+v ok=%v %v", l, ok, err)
	}
}
