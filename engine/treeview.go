package engine

import (
	"context"
	"path"
	"sort"
	"strings"

	"github.com/syncd/syncd/workspace"
)

// The tree export seen one folder at a time, for a reader that lists
// folders on demand (the WebDAV view of `syncd serve`): the same names as
// ExportTree writes, planned by the same code (planFolders, planFolder,
// planDocument, claims, SafePath, SafeName), without writing anything.

// TreeListing is one exported folder of a workspace as ExportTree writes
// it.
type TreeListing struct {
	// Path is the folder as exported, relative to the workspace's
	// folder ("" for the workspace's folder itself).
	Path string
	// Folders are the names of the exported folders in it, sorted.
	Folders []string
	// Files are the files of its documents as the export's manifest
	// describes them (Path relative to the workspace's folder; Size is
	// not set): each document's latest version at Path/<name>, the
	// earlier ones at Path/.versions/<name>/<seq date name>, in the
	// manifest's order. Path/.versions and Path/.versions/<name> are
	// folders of the export when a file is in them.
	Files []ManifestEntry
}

// VersionsDir is the folder, in each exported folder, that holds the
// earlier versions of its documents (one folder per document, named as
// its latest file). No document or folder is ever named so.
const VersionsDir = versionsDir

// TreeFolders is how the stored folders of one workspace are exported,
// read once from the catalog: memory grows with the number of folders of
// the workspace, never with its documents. A listing then reads the
// documents of one exported folder only.
type TreeFolders struct {
	cat *workspace.Catalog
	ws  string
	idx *memFolders
}

// ReadTreeFolders reads how workspace ws's folders are exported.
func ReadTreeFolders(ctx context.Context, cat *workspace.Catalog, ws string) (*TreeFolders, error) {
	idx := newMemFolders()
	if err := planFolders(ctx, catalogTree{cat}, ws, idx); err != nil {
		return nil, err
	}
	return &TreeFolders{cat: cat, ws: ws, idx: idx}, nil
}

// TreeFolder plans the exported folder dir of workspace ws exactly as
// ExportTree names it. dir is an exported folder's path, relative to the
// workspace's folder ("" for the workspace's folder itself), matched
// case-insensitively as the export claims names; ok is false when the
// export has no such folder. The workspace's folder always exists (empty
// when the workspace has no document with a version).
func TreeFolder(ctx context.Context, cat *workspace.Catalog, ws, dir string) (TreeListing, bool, error) {
	f, err := ReadTreeFolders(ctx, cat, ws)
	if err != nil {
		return TreeListing{}, false, err
	}
	return f.Listing(ctx, dir)
}

// Find is the exported folder dir as the export spells it (matched
// case-insensitively); ok is false when the export has no such folder.
func (f *TreeFolders) Find(dir string) (spelled string, ok bool) {
	lower, ok := f.lookup(dir)
	if !ok {
		return "", false
	}
	return f.idx.spelled(lower), true
}

// lookup is dir's exported folder (lower case).
func (f *TreeFolders) lookup(dir string) (string, bool) {
	var segs []string
	for _, seg := range strings.Split(dir, "/") {
		if seg != "" {
			segs = append(segs, strings.ToLower(seg))
		}
	}
	lower := strings.Join(segs, "/")
	if lower == "" {
		return "", true
	}
	_, ok := f.idx.prefixes[lower]
	return lower, ok
}

// Listing plans the exported folder dir (see TreeFolder), reading the
// documents of the stored folders exported there and no others.
func (f *TreeFolders) Listing(ctx context.Context, dir string) (TreeListing, bool, error) {
	lower, ok := f.lookup(dir)
	if !ok {
		return TreeListing{}, false, nil
	}
	l := TreeListing{Path: f.idx.spelled(lower), Folders: []string{}}
	sub := make(map[string]bool, len(f.idx.kids[lower]))
	for _, k := range f.idx.kids[lower] {
		sub[k] = true
		l.Folders = append(l.Folders, f.idx.prefixes[k].seg)
	}
	sort.Strings(l.Folders)
	// A folder only on the way to others has no documents of its own:
	// reading "no stored folder" would read them all.
	if stored := f.idx.stored[lower]; len(stored) > 0 {
		err := planFolder(ctx, catalogTree{f.cat}, f.ws, l.Path, sub, stored, func(e ManifestEntry) error {
			l.Files = append(l.Files, e)
			return nil
		})
		if err != nil {
			return TreeListing{}, false, err
		}
	}
	return l, true, nil
}

// memFolders is a folderIndex in maps: the folders of one workspace.
type memFolders struct {
	prefixes map[string]*folderPrefix // exported folder (lower case) -> how it is spelled
	kids     map[string][]string      // exported folder -> the exported folders in it
	stored   map[string][]string      // exported folder -> the stored folders exported there
}

type folderPrefix struct{ seg, first string }

func newMemFolders() *memFolders {
	return &memFolders{prefixes: map[string]*folderPrefix{}, kids: map[string][]string{}, stored: map[string][]string{}}
}

// addPrefix keeps the spelling of the smallest first, as the export's
// scratch file does.
func (m *memFolders) addPrefix(_ context.Context, lower, parent, seg, first string) error {
	p, ok := m.prefixes[lower]
	switch {
	case !ok:
		m.prefixes[lower] = &folderPrefix{seg: seg, first: first}
		m.kids[parent] = append(m.kids[parent], lower)
	case first < p.first:
		p.seg, p.first = seg, first
	}
	return nil
}

func (m *memFolders) addFolder(_ context.Context, folder, lower string) error {
	m.stored[lower] = append(m.stored[lower], folder)
	return nil
}

// spelled is the exported folder lower as the export spells it.
func (m *memFolders) spelled(lower string) string {
	var segs []string
	for p := lower; p != "." && p != ""; p = path.Dir(p) {
		segs = append(segs, m.prefixes[p].seg)
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "/")
}
