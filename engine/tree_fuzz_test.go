package engine_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
)

// Tampering with the export folder, as bits of FuzzTreeExport's tamper.
const (
	tamperWSLink       = 1 << iota // before the first export: the workspace folder is a symlink to outside
	tamperManifest                 // before the first export: a manifest naming files outside
	tamperFolderLink               // after: a folder of the export replaced by a symlink to outside
	tamperFileLink                 // after: an exported file replaced by a symlink to a file outside
	tamperFileDir                  // after: an exported file replaced by a folder holding a file
	tamperEditManifest             // after: manifest entries added for outside, absolute and foreign paths
	tamperEditFile                 // after: an exported file edited by hand
)

// FuzzTreeExport exports documents with arbitrary names and folders (one
// per line of names and folders) into a folder that may have been tampered
// with, and checks: nothing outside the export folder is written, removed
// or followed; every version is exported exactly once; one more export
// changes nothing. `go test` runs the seeds; see docs/security.md for a
// longer run.
func FuzzTreeExport(f *testing.F) {
	long := strings.Repeat("Quarterly budget review ", 10)[:236] + ".xlsx"
	f.Add(".syncd-manifest.json\nreport.docx", "", uint8(tamperManifest))
	f.Add(".versions\nreport.docx\n.versions", "\n\n.versions", uint8(0))
	f.Add(long+"\n"+long[:100]+"\n"+strings.Repeat("\u00e9", 2100), "", uint8(tamperEditFile))
	f.Add(".\n..\nunnamed\n\\..\\..\\x", "..\n../..\n\\", uint8(tamperFolderLink|tamperFileLink))
	f.Add("CON\nnul.txt\nCOM1.tar.gz\nLPT9\ntrailing. . \nconin$", "AUX\nprn.d", uint8(tamperFileDir))
	f.Add("Caf\u00e9.txt\nCafe\u0301.txt\nCAFÉ.TXT\ncafé.txt", "Dept\ndept\nDEPT", uint8(tamperEditManifest))
	f.Add("a/b\\c.txt\n../../etc/passwd\n/etc/shadow", "/abs/olute\nC:\\Windows", uint8(tamperWSLink))
	f.Add("evil\x1b]0;t\x07\r\u202etxt.exe\n\x00nul\xff\xfe", "\x01\x7f", uint8(0x7f))
	f.Add("x\nx (2)\nx", "x\nx (2)", uint8(tamperFileDir|tamperEditFile))
	f.Add(".syncd-kept\n.syncd-tmp-0\n.SYNCD-MANIFEST.JSON", ".syncd-kept\n.versions/.syncd-tmp-x", uint8(0x7f))
	f.Fuzz(func(t *testing.T, names, folders string, tamper uint8) {
		nameList := strings.Split(names, "\n")
		if len(nameList) > 8 {
			nameList = nameList[:8]
		}
		if len(folders) > 1024 {
			folders = folders[:1024]
		}
		folderList := strings.Split(folders, "\n")
		var specs []treeDoc
		for i, n := range nameList {
			if len(n) > 4200 {
				n = n[:4200]
			}
			d := treeDoc{name: n, folder: folderList[i%len(folderList)]}
			for j := 0; j <= i%3; j++ {
				d.contents = append(d.contents, fmt.Sprintf("document %d version %d", i, j))
			}
			specs = append(specs, d)
		}
		blobs := dedupe.NewMem()
		docs := makeDocs(t, blobs, specs)
		base := t.TempDir()
		dir := filepath.Join(base, "exp")
		outside := filepath.Join(base, "outside")
		victim := filepath.Join(outside, "victim.txt")
		must(t, os.MkdirAll(outside, 0o755))
		must(t, os.WriteFile(victim, []byte("victim"), 0o644))
		vsum := fmt.Sprintf("%x", sha256.Sum256([]byte("victim")))
		must(t, os.MkdirAll(dir, 0o755))
		if tamper&tamperWSLink != 0 {
			must(t, os.Symlink(outside, filepath.Join(dir, "ws")))
		}
		if tamper&tamperManifest != 0 {
			os.MkdirAll(filepath.Join(dir, "ws"), 0o755) // fails through the link: fine
			mf := fmt.Sprintf(`[{"path":"../../outside/victim.txt","sha256":%q},{"path":"../outside/victim.txt","sha256":%q},{"path":%q,"sha256":%q}]`, vsum, vsum, victim, vsum)
			os.WriteFile(filepath.Join(dir, "ws", engine.ManifestName), []byte(mf), 0o644)
		}
		outsideBefore := digestTree(t, outside)
		checkOutside := func(when string) {
			t.Helper()
			if d := sameDigest(outsideBefore, digestTree(t, outside)); d != "" {
				t.Fatalf("%s: the export changed things outside its folder:\n%s", when, d)
			}
			if entries, _ := os.ReadDir(base); len(entries) != 2 {
				t.Fatalf("%s: %d entries beside the export folder, want 2", when, len(entries))
			}
		}

		writeTree(t, docs, blobs, dir)
		checkOutside("first export")
		checkExported(t, docs, dir)

		mf := readManifest(t, dir)
		after := false
		if tamper&tamperFolderLink != 0 {
			for _, e := range mf {
				if d := path.Dir(e.Path); d != "." {
					p := filepath.Join(dir, "ws", filepath.FromSlash(d))
					must(t, os.RemoveAll(p))
					must(t, os.Symlink(outside, p))
					after = true
					break
				}
			}
		}
		pick := func(i int) (string, bool) {
			e := mf[i%len(mf)]
			p := filepath.Join(dir, "ws", filepath.FromSlash(e.Path))
			fi, err := os.Lstat(p)
			return p, err == nil && fi.Mode().IsRegular()
		}
		if tamper&tamperFileLink != 0 {
			if p, ok := pick(len(mf) - 1); ok {
				must(t, os.Remove(p))
				must(t, os.Symlink(victim, p))
				after = true
			}
		}
		if tamper&tamperFileDir != 0 {
			if p, ok := pick(len(mf) / 2); ok {
				must(t, os.Remove(p))
				must(t, os.Mkdir(p, 0o755))
				must(t, os.WriteFile(filepath.Join(p, "inside"), []byte("someone's"), 0o644))
				after = true
			}
		}
		if tamper&tamperEditFile != 0 {
			if p, ok := pick(1); ok {
				must(t, os.WriteFile(p, []byte("edited by hand"), 0o644))
				after = true
			}
		}
		if tamper&tamperEditManifest != 0 {
			mf = append(mf,
				engine.ManifestEntry{Path: "../../outside/victim.txt", SHA256: vsum},
				engine.ManifestEntry{Path: victim, SHA256: vsum},
				engine.ManifestEntry{Path: "a/../../../outside/victim.txt", SHA256: vsum})
			if len(mf) > 0 {
				mf[0].Path = "../" + mf[0].Path
			}
			b, _ := json.Marshal(mf)
			must(t, os.WriteFile(filepath.Join(dir, "ws", engine.ManifestName), b, 0o644))
			after = true
		}

		before := digestTree(t, dir)
		st := writeTree(t, docs, blobs, dir)
		checkOutside("second export")
		checkExported(t, docs, dir)
		if !after && (st.Written+st.Kept+st.Removed != 0 || sameDigest(before, digestTree(t, dir)) != "") {
			t.Fatalf("a second export of an untouched folder changed it: %+v", st)
		}
		before = digestTree(t, dir)
		st = writeTree(t, docs, blobs, dir)
		checkOutside("third export")
		if d := sameDigest(before, digestTree(t, dir)); d != "" || st.Written+st.Kept+st.Removed != 0 {
			t.Fatalf("one more export changed the folder: %+v\n%s", st, d)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
