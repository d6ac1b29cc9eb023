//go:build unix

package engine_test

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/syncd/syncd/dedupe"
)

// Exported files get the umask's permissions, not 0600 (issue 15, item 3).
func TestTreeFilesFollowUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "exp")
	blobs := dedupe.NewMem()
	docs := makeDocs(t, blobs, []treeDoc{{folder: "f", name: "a.txt", contents: []string{"a1", "a2"}}})
	writeTree(t, docs, blobs, dir)
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = 0o755
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		n++
		return nil
	})
	if n < 5 {
		t.Fatalf("only %d entries checked", n)
	}
}
