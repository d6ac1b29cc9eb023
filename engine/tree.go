package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// ManifestName is the provenance file written at the root of each
// exported workspace.
const ManifestName = ".syncd-manifest.json"

// ManifestEntry describes one exported file.
type ManifestEntry struct {
	Path     string   `json:"path"`
	Document string   `json:"document"`
	Version  string   `json:"version"`
	Seq      int      `json:"seq"`
	Latest   bool     `json:"latest"`
	SHA256   string   `json:"sha256"`
	Size     int64    `json:"size"`
	Time     string   `json:"time,omitempty"`
	Author   string   `json:"author,omitempty"`
	SeenAt   []string `json:"seen_at"`
}

// TreeStats counts what an export wrote.
type TreeStats struct {
	Files, Written, Unchanged, Removed int
}

// ExportTree writes each workspace as a folder tree a person can open: the
// latest version of each document at its path, earlier versions under
// .versions/<name>/, and a manifest of provenance. Re-exporting the same
// catalog changes nothing.
func ExportTree(ctx context.Context, cat *workspace.Catalog, blobs dedupe.BlobStore, dir string) (TreeStats, error) {
	var st TreeStats
	docs, err := cat.Documents(ctx)
	if err != nil {
		return st, err
	}
	seen := map[int64]string{}
	err = cat.EachSighting(ctx, func(s workspace.Sighting) error {
		seen[s.ID] = describeSighting(s)
		return nil
	})
	if err != nil {
		return st, err
	}
	byWS := map[string][]workspace.Document{}
	for _, d := range docs {
		byWS[d.Workspace] = append(byWS[d.Workspace], d)
	}
	wss := make([]string, 0, len(byWS))
	for w := range byWS {
		wss = append(wss, w)
	}
	sort.Strings(wss)
	for _, w := range wss {
		root := filepath.Join(dir, SafeName(w))
		entries := planTree(byWS[w], seen)
		for _, e := range entries {
			wrote, err := writeBlob(ctx, blobs, root, e)
			if err != nil {
				return st, err
			}
			st.Files++
			if wrote {
				st.Written++
			} else {
				st.Unchanged++
			}
		}
		n, err := writeManifest(root, entries)
		if err != nil {
			return st, err
		}
		st.Removed += n
	}
	return st, nil
}

func describeSighting(s workspace.Sighting) string {
	l := s.Lineage
	switch s.Kind {
	case "mail":
		return fmt.Sprintf("%s: %s %s uid %d %s from %s %q", s.Source, l.Account, l.Mailbox, l.UID, l.MessageID, l.From, s.Name)
	case "sharepoint":
		return fmt.Sprintf("%s: item %s version %s %q", s.Source, l.ItemID, l.VersionID, path.Join(s.Path, s.Name))
	default:
		return fmt.Sprintf("%s: %s", s.Source, path.Join(s.Path, s.Name))
	}
}

// planTree decides every file's path, resolving collisions in document key
// order so the result is deterministic.
func planTree(docs []workspace.Document, seen map[int64]string) []ManifestEntry {
	sort.Slice(docs, func(i, j int) bool { return docs[i].Key < docs[j].Key })
	taken := map[string]bool{}
	claim := func(p string) string {
		dir, base := path.Split(p)
		ext := path.Ext(base)
		stem := strings.TrimSuffix(base, ext)
		cand := p
		for n := 2; taken[strings.ToLower(cand)]; n++ {
			cand = dir + fmt.Sprintf("%s (%d)%s", stem, n, ext)
		}
		taken[strings.ToLower(cand)] = true
		return cand
	}
	var out []ManifestEntry
	for _, d := range docs {
		if len(d.Versions) == 0 {
			continue
		}
		folder := SafePath(d.Folder)
		name := SafeName(d.Name)
		latest := claim(path.Join(folder, name))
		vs := append([]workspace.Version(nil), d.Versions...)
		sort.Slice(vs, func(i, j int) bool { return vs[i].Seq < vs[j].Seq })
		last := vs[len(vs)-1]
		for _, v := range vs {
			e := ManifestEntry{Document: d.Key, Version: v.Key, Seq: v.Seq, SHA256: v.Blob.String(), Author: v.Author, SeenAt: []string{}}
			if !v.Time.IsZero() {
				e.Time = v.Time.UTC().Format("2006-01-02T15:04:05Z")
			}
			for _, sid := range v.Sightings {
				if s, ok := seen[sid]; ok {
					e.SeenAt = append(e.SeenAt, s)
				}
			}
			if v.Key == last.Key {
				e.Path, e.Latest = latest, true
			} else {
				date := "undated"
				if !v.Time.IsZero() {
					date = v.Time.UTC().Format("2006-01-02")
				}
				e.Path = claim(path.Join(path.Dir(latest), ".versions", path.Base(latest), fmt.Sprintf("%03d %s %s", v.Seq, date, path.Base(latest))))
			}
			out = append(out, e)
		}
	}
	return out
}

// writeBlob copies a blob to root/e.Path unless an identical file is there.
func writeBlob(ctx context.Context, blobs dedupe.BlobStore, root string, e ManifestEntry) (bool, error) {
	dst := filepath.Join(root, filepath.FromSlash(e.Path))
	if f, err := os.Open(dst); err == nil {
		sums, herr := dedupe.HashReader(f)
		f.Close()
		if herr == nil && sums.ID.String() == e.SHA256 {
			return false, nil
		}
	}
	id, err := dedupe.ParseID(e.SHA256)
	if err != nil {
		return false, err
	}
	rc, err := blobs.Open(ctx, id)
	if err != nil {
		return false, fmt.Errorf("export %s: %w", e.Path, err)
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".syncd-tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return false, fmt.Errorf("export %s: %w", e.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), dst)
}

// writeManifest writes the manifest and removes files that an earlier
// export wrote but this one no longer has.
func writeManifest(root string, entries []ManifestEntry) (int, error) {
	mp := filepath.Join(root, ManifestName)
	removed := 0
	if b, err := os.ReadFile(mp); err == nil {
		var old []ManifestEntry
		if json.Unmarshal(b, &old) == nil {
			keep := map[string]bool{}
			for _, e := range entries {
				keep[e.Path] = true
			}
			for _, o := range old {
				if !keep[o.Path] && os.Remove(filepath.Join(root, filepath.FromSlash(o.Path))) == nil {
					removed++
				}
			}
		}
	}
	b, err := json.MarshalIndent(entries, "", " ")
	if err != nil {
		return removed, err
	}
	if old, err := os.ReadFile(mp); err == nil && string(old) == string(b) {
		return removed, nil
	}
	return removed, os.WriteFile(mp, b, 0o644)
}

// SafePath makes each segment of a folder path safe.
func SafePath(p string) string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s == "" || s == "." {
			continue
		}
		segs = append(segs, SafeName(s))
	}
	return strings.Join(segs, "/")
}

var reserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, ".LOCK": true, "DESKTOP.INI": true, "_VTI_": true}

func init() {
	for i := 0; i <= 9; i++ {
		reserved[fmt.Sprintf("COM%d", i)] = true
		reserved[fmt.Sprintf("LPT%d", i)] = true
	}
}

// maxNameBytes is SharePoint's and most filesystems' limit per segment.
const maxNameBytes = 255

// SafeName makes one path segment safe on Windows, SharePoint and POSIX:
// no separators, no reserved or invalid characters or names, no leading or
// trailing spaces or trailing dots, at most 255 bytes, NFC.
func SafeName(name string) string {
	name = norm.NFC.String(strings.ToValidUTF8(name, "_"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteByte('_')
		case strings.ContainsRune(`"*:<>?/\|#%`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimRight(strings.TrimSpace(b.String()), ". ")
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		name = "unnamed"
	}
	stem := strings.ToUpper(strings.TrimSuffix(name, path.Ext(name)))
	if reserved[stem] || reserved[strings.ToUpper(name)] || strings.HasPrefix(name, "~$") || strings.Contains(strings.ToLower(name), "_vti_") {
		name = "_" + name
	}
	if len(name) > maxNameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		stem := name[:maxNameBytes-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		name = strings.TrimRight(stem, ". ") + ext
	}
	return name
}
