package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/syncd/syncd/fixtures"
	"github.com/syncd/syncd/workspace"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// syncdBinary builds the syncd binary once per test process.
func syncdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "syncd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "syncd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// testCorpus extracts the demo corpus and adds n generated share files
// (with duplicates and version-named copies) under share/Bulk.
func testCorpus(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "corpus")
	if err := fixtures.ExtractDemo(dir); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, "share", "Bulk", fmt.Sprintf("team%02d", i%17), fmt.Sprintf("Report %d v%d.txt", i%300, i%3))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("report %d\nrevision %d\n%s", i%300, i%3, strings.Repeat("line of text\n", i%50))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// storeDigest hashes every file under dir (path + bytes), for "nothing
// changed" checks.
func storeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storeContent is a store's sightings and history as comparable lines.
func storeContent(t *testing.T, storeDir string) []string {
	t.Helper()
	ctx := context.Background()
	cat, err := workspace.Open(ctx, filepath.Join(storeDir, "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	return catalogContent(t, cat)
}

// catalogContent lists what a catalog holds, sorted, without ids or times.
func catalogContent(t *testing.T, cat *workspace.Catalog) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	err := cat.EachSighting(ctx, func(s workspace.Sighting) error {
		out = append(out, fmt.Sprintf("sighting %s|%s|%s|%s|%s", s.Source, s.Ref, s.Fingerprint, s.Blob, s.Workspace))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := cat.Documents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		for _, v := range d.Versions {
			var ps []string
			for _, p := range v.Parents {
				ps = append(ps, p.Parent)
			}
			sort.Strings(ps)
			out = append(out, fmt.Sprintf("doc %s %s v%d %s %s parents=%v", d.Key, d.Name, v.Seq, v.Key, v.Blob.Short(), ps))
		}
	}
	sort.Strings(out)
	return out
}

func diffLines(a, b []string) string {
	am := map[string]bool{}
	for _, x := range a {
		am[x] = true
	}
	bm := map[string]bool{}
	for _, x := range b {
		bm[x] = true
	}
	var buf bytes.Buffer
	n := 0
	for _, x := range a {
		if !bm[x] && n < 10 {
			fmt.Fprintf(&buf, "- %s\n", x)
			n++
		}
	}
	for _, x := range b {
		if !am[x] && n < 20 {
			fmt.Fprintf(&buf, "+ %s\n", x)
			n++
		}
	}
	return buf.String()
}

func sha256hex(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
