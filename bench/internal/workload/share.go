package workload

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"time"
)

// ShareStats counts what the share holds.
type ShareStats struct {
	Files    int
	Distinct int // distinct contents
	Bytes    int64
}

var shareFolders = []string{"Finance", "HR", "Legal", "Operations/Reports", "Projects/Alpha", "Projects/Beta",
	"Projects/Estates", "Archive/2023", "Shared/From Email"}

// versionNames are the ways people name versions on a share.
var versionNames = []func(d Doc, v int) string{
	func(d Doc, v int) string { return d.Name(v) },
	func(d Doc, v int) string { return fmt.Sprintf("%s_v%d%s", d.Title, v, d.Ext) },
	func(d Doc, v int) string { return fmt.Sprintf("%s (v%d)%s", d.Title, v, d.Ext) },
	func(d Doc, v int) string {
		return fmt.Sprintf("%s %s%s", d.Title, epoch.AddDate(0, 0, 7*v).Format("2006-01-02"), d.Ext)
	},
}

type shareGen struct {
	dir   string
	r     *rand.Rand
	stats ShareStats
	seen  map[[32]byte]bool // contents already counted as distinct
}

// writeShare files ShareDocs documents of the pool (which overlaps the
// mail's) with all their versions, plus FINAL copies, "Copy of" copies in
// other folders, "(1)" duplicates, and the large files.
func writeShare(dir string, s Spec, pool []Doc) (ShareStats, error) {
	g := &shareGen{dir: dir, r: rand.New(rand.NewPCG(s.Seed, 3)), seen: map[[32]byte]bool{}}
	for i := range s.ShareDocs {
		doc := pool[(i*7)%s.Docs]
		if i >= s.Docs {
			doc.ID, doc.Title = s.Docs*2+i, fmt.Sprintf("%s (%s)", doc.Title, path.Base(shareFolders[i%len(shareFolders)]))
		}
		if err := g.document(doc); err != nil {
			return g.stats, err
		}
	}
	for i := range s.LargeShare {
		doc := pool[s.Docs+s.LargeMail+i]
		if err := g.write("Media", doc.Name(1), doc, 1); err != nil {
			return g.stats, err
		}
		if i == 0 {
			if err := g.write("Archive/2023", doc.Name(1), doc, 1); err != nil {
				return g.stats, err
			}
		}
	}
	return g.stats, nil
}

func (g *shareGen) document(doc Doc) error {
	folder := shareFolders[g.r.IntN(len(shareFolders))]
	style := versionNames[g.r.IntN(len(versionNames))]
	n := 1 + g.r.IntN(4)
	for v := 1; v <= n; v++ {
		if err := g.write(folder, style(doc, v), doc, v); err != nil {
			return err
		}
	}
	if g.r.IntN(3) == 0 {
		if err := g.write(folder, fmt.Sprintf("%s FINAL%s", doc.Title, doc.Ext), doc, n); err != nil {
			return err
		}
	}
	if g.r.IntN(3) == 0 {
		other := shareFolders[g.r.IntN(len(shareFolders))]
		if err := g.write(other, "Copy of "+style(doc, n), doc, n); err != nil {
			return err
		}
	}
	if g.r.IntN(10) == 0 {
		if err := g.write(folder, fmt.Sprintf("%s (1)%s", doc.Title, doc.Ext), doc, 1); err != nil {
			return err
		}
	}
	return nil
}

func (g *shareGen) write(folder, name string, doc Doc, v int) error {
	p := filepath.Join(g.dir, filepath.FromSlash(folder), name)
	if _, err := os.Stat(p); err == nil {
		return nil // two styles met on the same name: keep the first
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	h := sha256.New()
	if err := doc.WriteTo(io.MultiWriter(f, h), v); err != nil {
		f.Close()
		return fmt.Errorf("workload: %s: %w", p, err)
	}
	fi, err := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	mt := epoch.AddDate(0, 0, 7*v).Add(time.Duration(doc.ID) * time.Minute)
	if err := os.Chtimes(p, mt, mt); err != nil {
		return err
	}
	g.stats.Files++
	g.stats.Bytes += fi.Size()
	var key [32]byte
	h.Sum(key[:0])
	if !g.seen[key] {
		g.seen[key] = true
		g.stats.Distinct++
	}
	return nil
}
