package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Names the tree export keeps for itself. SafeName never gives a document
// or folder a name equal to ".versions" or starting with ".syncd-"
// (compared case-insensitively), so none of these can be taken by data.
const (
	// ManifestName is the provenance file written at the root of each
	// exported workspace.
	ManifestName = ".syncd-manifest.json"
	versionsDir  = ".versions"
	// KeptDir (at the top of the export folder) receives anything found in
	// the way of an exported file that the export did not write: a file
	// someone edited or put there, a symlink, a folder. Nothing is lost.
	KeptDir     = ".syncd-kept"
	tmpPrefix   = ".syncd-tmp-"
	reservedPfx = ".syncd-"
)

// ManifestEntry describes one exported file.
type ManifestEntry struct {
	Path     string `json:"path"`
	Document string `json:"document"`
	// Name is the document's name as stored: raw data from a sender or a
	// share, to be cleaned by whoever displays it.
	Name string `json:"name"`
	// Renamed is set when the document's exported name (its latest
	// file's) is not Name: sanitised, a reserved name, shortened, or
	// disambiguated from another document.
	Renamed bool     `json:"renamed,omitempty"`
	Version string   `json:"version"`
	Seq     int      `json:"seq"`
	Latest  bool     `json:"latest"`
	SHA256  string   `json:"sha256"`
	Size    int64    `json:"size"`
	Time    string   `json:"time,omitempty"`
	Author  string   `json:"author,omitempty"`
	SeenAt  []string `json:"seen_at"`
}

// TreeStats counts what an export did. Problems lists the files that
// could not be exported (a damaged or missing blob, a file system error);
// the rest of the export still happened.
type TreeStats struct {
	Files, Written, Unchanged, Removed, Kept int
	Problems                                 []string
}

// ExportTree writes each workspace as a folder tree a person can open: the
// latest version of each document at its path, earlier versions under
// .versions/<name>/, and a manifest of provenance. Re-exporting the same
// catalog changes nothing. It streams: one folder's documents (with their
// sightings) are read at a time, and the manifest and the previous
// export's entries go through a temporary SQLite file, so memory is
// bounded by the largest folder, not by the store.
func ExportTree(ctx context.Context, cat *workspace.Catalog, blobs dedupe.BlobStore, dir string) (TreeStats, error) {
	return writeTree(ctx, catalogTree{cat}, blobs, dir)
}

// WriteTree is ExportTree over documents already loaded; seen describes
// sightings by id. Every file operation goes through an os.Root opened on
// dir, so no name, manifest entry or symlink reaches outside it; symlinks
// inside it are never followed either (they are moved aside like any
// other thing in the way).
func WriteTree(ctx context.Context, docs []workspace.Document, seen map[int64]string, blobs dedupe.BlobStore, dir string) (TreeStats, error) {
	return writeTree(ctx, newMemTree(docs, seen), blobs, dir)
}

// treeSource is what an export reads: workspaces, their folders, and the
// documents of some folders.
type treeSource interface {
	// workspaces lists the workspaces holding documents, sorted.
	workspaces(ctx context.Context) ([]string, error)
	// folders calls fn for each stored folder of ws's documents that
	// have versions, with the smallest key of those documents.
	folders(ctx context.Context, ws string, fn func(folder, firstKey string) error) error
	// documents calls fn for each document of ws stored with one of
	// folders (not empty), in key order, with the descriptions of its
	// sightings by id.
	documents(ctx context.Context, ws string, folders []string, fn func(workspace.Document, map[int64]string) error) error
}

type catalogTree struct{ cat *workspace.Catalog }

func (c catalogTree) workspaces(ctx context.Context) ([]string, error) {
	return c.cat.DocumentWorkspaces(ctx)
}

func (c catalogTree) folders(ctx context.Context, ws string, fn func(folder, firstKey string) error) error {
	return c.cat.EachDocumentFolder(ctx, ws, fn)
}

func (c catalogTree) documents(ctx context.Context, ws string, folders []string, fn func(workspace.Document, map[int64]string) error) error {
	return c.cat.EachDocumentSightings(ctx, workspace.DocFilter{Workspace: ws, Folders: folders}, func(d workspace.Document, ss []workspace.Sighting) error {
		seen := make(map[int64]string, len(ss))
		for _, s := range ss {
			seen[s.ID] = describeSighting(s)
		}
		return fn(d, seen)
	})
}

// memTree is a treeSource over documents in memory (WriteTree).
type memTree struct {
	byWS map[string][]workspace.Document // each in key order
	seen map[int64]string
}

func newMemTree(docs []workspace.Document, seen map[int64]string) *memTree {
	m := &memTree{byWS: map[string][]workspace.Document{}, seen: seen}
	for _, d := range docs {
		m.byWS[d.Workspace] = append(m.byWS[d.Workspace], d)
	}
	for _, ds := range m.byWS {
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].Key < ds[j].Key })
	}
	return m
}

func (m *memTree) workspaces(context.Context) ([]string, error) {
	wss := make([]string, 0, len(m.byWS))
	for w := range m.byWS {
		wss = append(wss, w)
	}
	sort.Strings(wss)
	return wss, nil
}

func (m *memTree) folders(_ context.Context, ws string, fn func(folder, firstKey string) error) error {
	first := map[string]string{}
	var order []string
	for _, d := range m.byWS[ws] {
		if len(d.Versions) == 0 {
			continue
		}
		if _, ok := first[d.Folder]; !ok {
			first[d.Folder] = d.Key
			order = append(order, d.Folder)
		}
	}
	for _, f := range order {
		if err := fn(f, first[f]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memTree) documents(_ context.Context, ws string, folders []string, fn func(workspace.Document, map[int64]string) error) error {
	in := map[string]bool{}
	for _, f := range folders {
		in[f] = true
	}
	for _, d := range m.byWS[ws] {
		if in[d.Folder] {
			if err := fn(d, m.seen); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeTree(ctx context.Context, src treeSource, blobs dedupe.BlobStore, dir string) (TreeStats, error) {
	var st TreeStats
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return st, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, err
	}
	defer root.Close()
	wss, err := src.workspaces(ctx)
	if err != nil {
		return st, err
	}
	scratch, err := openTreeScratch(ctx)
	if err != nil {
		return st, err
	}
	defer scratch.close()
	t := &treeWriter{ctx: ctx, root: root, blobs: blobs, st: &st, dirs: map[string]bool{}, scratch: scratch}
	for i, ws := range TreeWorkspaceNames(wss) {
		if err := t.workspace(ws, wss[i], src); err != nil {
			return st, err
		}
	}
	return st, nil
}

// TreeWorkspaceNames are the names of the folders the tree export writes
// the workspaces wss to, given in the export's order (the catalog's,
// sorted): SafeName, numbered when two would collide case-insensitively.
func TreeWorkspaceNames(wss []string) []string {
	names := newClaims(nil)
	out := make([]string, len(wss))
	for i, w := range wss {
		out[i] = names.claim("", SafeName(w))
	}
	return out
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

// claims hands out file names that no other file or folder of the export
// has taken, compared case-insensitively (the folder must survive a copy
// to SMB or Windows). folders (shared, read-only here) holds the folders
// of the workspace, claimed before any file.
type claims struct{ folders, taken map[string]bool }

func newClaims(folders map[string]bool) *claims {
	return &claims{folders: folders, taken: map[string]bool{}}
}

func (c *claims) claim(dir, name string) string {
	cand := path.Join(dir, name)
	for n := 2; c.taken[strings.ToLower(cand)] || c.folders[strings.ToLower(cand)]; n++ {
		cand = path.Join(dir, withNumber(name, n))
	}
	c.taken[strings.ToLower(cand)] = true
	return cand
}

// withNumber is name with " (n)" before its extension, still at most
// maxNameBytes long.
func withNumber(name string, n int) string {
	ext := extOf(name)
	stem := strings.TrimSuffix(name, ext)
	suf := fmt.Sprintf(" (%d)", n)
	if over := len(stem) + len(suf) + len(ext) - maxNameBytes; over > 0 {
		stem = cutBytes(stem, len(stem)-over)
	}
	return stem + suf + ext
}

// folderIndex is where planFolders records a workspace's folders: the
// export's scratch file (nothing per folder in memory), or a map
// (TreeFolders, which reads the folders of one workspace only).
type folderIndex interface {
	// addPrefix records an exported folder path (lower case) seen in
	// the stored folder of the document first: the smallest first
	// spells it.
	addPrefix(ctx context.Context, lower, parent, seg, first string) error
	// addFolder records that the stored folder is exported at lower.
	addFolder(ctx context.Context, folder, lower string) error
}

// planFolders records in idx how workspace w's folders are exported:
// every stored folder with the exported folder (lower case) it goes to,
// and every exported folder path with its parent and its last segment's
// spelling. Stored folders differing only in case, or in characters
// SafeName replaces, become one exported folder, spelled as the document
// with the smallest key spells it: what deciding in document key order
// over the whole workspace gives.
func planFolders(ctx context.Context, src treeSource, w string, idx folderIndex) error {
	return src.folders(ctx, w, func(folder, key string) error {
		lower, parent := "", ""
		for _, seg := range strings.Split(SafePath(folder), "/") {
			if seg == "" {
				continue
			}
			parent, lower = lower, path.Join(lower, strings.ToLower(seg))
			if err := idx.addPrefix(ctx, lower, parent, seg, key); err != nil {
				return fmt.Errorf("export scratch: %w", err)
			}
		}
		if err := idx.addFolder(ctx, folder, lower); err != nil {
			return fmt.Errorf("export scratch: %w", err)
		}
		return nil
	})
}

// planFolder plans the files of one exported folder, spelled as spelled,
// holding the exported folders sub (lower case paths, claimed before any
// file, so a document never takes a folder's name) and the documents of
// the stored folders stored (not empty): fn gets each file's entry, in
// document key order.
func planFolder(ctx context.Context, src treeSource, w, spelled string, sub map[string]bool, stored []string, fn func(ManifestEntry) error) error {
	c := newClaims(sub)
	return src.documents(ctx, w, stored, func(d workspace.Document, seen map[int64]string) error {
		for _, e := range planDocument(c, spelled, d, seen) {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// planDocument decides the paths of one document's files in folder,
// claiming them in c (the claims of that folder). Documents are planned in
// key order (keys are stable: they come from content), never in map or
// ingest order, so the same catalog always gives the same tree.
func planDocument(c *claims, folder string, d workspace.Document, seen map[int64]string) []ManifestEntry {
	if len(d.Versions) == 0 {
		return nil
	}
	latest := c.claim(folder, SafeName(d.Name))
	vdir := path.Join(folder, versionsDir, path.Base(latest))
	vs := append([]workspace.Version(nil), d.Versions...)
	sort.SliceStable(vs, func(i, j int) bool {
		if vs[i].Seq != vs[j].Seq {
			return vs[i].Seq < vs[j].Seq
		}
		return vs[i].Key < vs[j].Key
	})
	last := vs[len(vs)-1]
	var out []ManifestEntry
	for _, v := range vs {
		e := ManifestEntry{Document: d.Key, Name: d.Name, Version: v.Key, Seq: v.Seq, SHA256: v.Blob.String(), Author: v.Author, SeenAt: []string{}}
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
			e.Path = c.claim(vdir, fitName(fmt.Sprintf("%03d %s %s", v.Seq, date, path.Base(latest))))
		}
		e.Renamed = path.Base(latest) != d.Name
		out = append(out, e)
	}
	return out
}

// treeWriter does the file operations of one export, all through root.
type treeWriter struct {
	ctx     context.Context
	root    *os.Root
	blobs   dedupe.BlobStore
	st      *TreeStats
	dirs    map[string]bool // folders checked (or made) for the current folder
	scratch *treeScratch
}

// workspace writes the files of workspace w under ws, one exported folder
// at a time, then its manifest, then removes what the previous export
// wrote and this one no longer has.
func (t *treeWriter) workspace(ws, w string, src treeSource) error {
	sc := t.scratch
	if err := sc.reset(t.ctx); err != nil {
		return fmt.Errorf("export scratch: %w", err)
	}
	if err := sc.begin(t.ctx); err != nil {
		return fmt.Errorf("export scratch: %w", err)
	}
	if err := t.readManifest(path.Join(ws, ManifestName)); err != nil {
		return fmt.Errorf("export scratch: %w", err)
	}
	if err := planFolders(t.ctx, src, w, sc); err != nil {
		return err
	}
	for group, first := "", true; ; first = false {
		// One exported folder at a time: its spelling, the stored
		// folders that go there, the folders in it (claimed before any
		// file, so a document never takes a folder's name).
		lower, stored, ok, err := sc.nextGroup(t.ctx, group, first)
		if err != nil {
			return fmt.Errorf("export scratch: %w", err)
		}
		if !ok {
			break
		}
		group = lower
		spelled, err := sc.spelling(t.ctx, lower)
		if err != nil {
			return fmt.Errorf("export scratch: %w", err)
		}
		sub, err := sc.children(t.ctx, lower)
		if err != nil {
			return fmt.Errorf("export scratch: %w", err)
		}
		// t.dirs only saves Lstat calls: forgetting it between folders
		// keeps it the size of one folder.
		clear(t.dirs)
		if err := planFolder(t.ctx, src, w, spelled, sub, stored, func(e ManifestEntry) error { return t.entry(ws, e) }); err != nil {
			return err
		}
	}
	clear(t.dirs)
	if err := sc.commit(); err != nil {
		return fmt.Errorf("export scratch: %w", err)
	}
	if err := t.writeManifest(path.Join(ws, ManifestName)); err != nil {
		return err
	}
	return sc.eachStale(t.ctx, func(op, sha string) {
		p := path.Join(ws, op)
		if !t.realDirs(path.Dir(p)) {
			return
		}
		if fi, err := t.root.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			return
		}
		if sum, err := t.hashFile(p); err == nil && sum == sha && t.root.Remove(p) == nil {
			t.st.Removed++
		}
	})
}

// entry writes one planned file of workspace folder ws and records it.
func (t *treeWriter) entry(ws string, e ManifestEntry) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	sc := t.scratch
	old, hadOld, err := sc.oldAt(t.ctx, e.Path)
	if err != nil {
		return fmt.Errorf("export scratch: %w", err)
	}
	if err := sc.keep(t.ctx, e.Path); err != nil {
		return fmt.Errorf("export scratch: %w", err)
	}
	size, wrote, err := t.writeFile(path.Join(ws, e.Path), e, old)
	if err != nil {
		t.st.Problems = append(t.st.Problems, err.Error())
		if hadOld {
			if err := sc.addDone(t.ctx, old); err != nil { // still on disk, still ours
				return fmt.Errorf("export scratch: %w", err)
			}
		}
		return nil
	}
	e.Size = size
	if err := sc.addDone(t.ctx, e); err != nil {
		return fmt.Errorf("export scratch: %w", err)
	}
	t.st.Files++
	if wrote {
		t.st.Written++
	} else {
		t.st.Unchanged++
	}
	return nil
}

// writeFile puts e's blob at p unless p already holds exactly those bytes.
// Whatever is in the way and is not the previous export's own unchanged
// file (prev) is moved aside, never overwritten or deleted. The blob is
// checked against its SHA-256 as it is copied.
func (t *treeWriter) writeFile(p string, e ManifestEntry, prev ManifestEntry) (size int64, wrote bool, err error) {
	if err := t.ensureDir(path.Dir(p)); err != nil {
		return 0, false, fmt.Errorf("export %s: %w", e.Path, err)
	}
	fi, err := t.root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, false, fmt.Errorf("export %s: %w", e.Path, err)
	case fi.Mode().IsRegular():
		sum, herr := t.hashFile(p)
		if herr == nil && sum == e.SHA256 {
			return fi.Size(), false, nil
		}
		if herr != nil || prev.Path == "" || sum != prev.SHA256 {
			if err := t.moveAside(p); err != nil {
				return 0, false, fmt.Errorf("export %s: %w", e.Path, err)
			}
		}
	default:
		if err := t.moveAside(p); err != nil {
			return 0, false, fmt.Errorf("export %s: %w", e.Path, err)
		}
	}
	n, err := t.copyBlob(p, e)
	return n, err == nil, err
}

// copyBlob writes the blob to a temporary file beside p, checking its
// SHA-256, and renames it into place. Files get the umask's permissions.
func (t *treeWriter) copyBlob(p string, e ManifestEntry) (int64, error) {
	what := fmt.Sprintf("document %s version %s blob %s (%s)", e.Document, e.Version, e.SHA256, e.Path)
	id, err := dedupe.ParseID(e.SHA256)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	rc, err := t.blobs.Open(t.ctx, id)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	defer rc.Close()
	sum := sha256.Sum256([]byte(p))
	tmp := path.Join(path.Dir(p), tmpPrefix+hex.EncodeToString(sum[:6]))
	if err := t.root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	f, err := t.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		err = fmt.Errorf("the stored content is damaged (it hashes to %x); run syncd verify", h.Sum(nil))
	}
	if err == nil {
		err = t.root.Rename(tmp, p)
	}
	if err != nil {
		t.root.Remove(tmp)
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

func (t *treeWriter) hashFile(p string) (string, error) {
	f, err := t.root.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", p)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ensureDir makes every folder of p, moving aside whatever is in the way
// (a file, or a symlink, even one pointing inside the folder).
func (t *treeWriter) ensureDir(p string) error {
	if p == "." || p == "" || t.dirs[p] {
		return nil
	}
	if err := t.ensureDir(path.Dir(p)); err != nil {
		return err
	}
	fi, err := t.root.Lstat(p)
	switch {
	case err == nil && fi.IsDir():
	case err == nil:
		if err := t.moveAside(p); err != nil {
			return err
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		if err := t.root.Mkdir(p, 0o777); err != nil {
			return err
		}
	default:
		return err
	}
	t.dirs[p] = true
	return nil
}

// realDirs reports whether every component of p is a directory, not a
// symlink: os.Root would follow a symlink that stays inside the folder.
func (t *treeWriter) realDirs(p string) bool {
	for ; p != "." && p != ""; p = path.Dir(p) {
		if t.dirs[p] {
			continue
		}
		fi, err := t.root.Lstat(p)
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// moveAside moves p (something the export did not write) to the same
// path under KeptDir, numbered if that is taken. Inside KeptDir itself it
// is renamed beside itself.
func (t *treeWriter) moveAside(p string) error {
	dst := path.Join(KeptDir, p)
	if p == KeptDir || strings.HasPrefix(p, KeptDir+"/") {
		dst = p
	} else if err := t.ensureDir(path.Dir(dst)); err != nil {
		return err
	}
	cand := dst
	for n := 2; ; n++ {
		if cand != p {
			_, err := t.root.Lstat(cand)
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			if err != nil {
				return err
			}
		}
		cand = path.Join(path.Dir(dst), withNumber(path.Base(dst), n))
	}
	if err := t.root.Rename(p, cand); err != nil {
		return err
	}
	delete(t.dirs, p)
	for d := range t.dirs {
		if strings.HasPrefix(d, p+"/") {
			delete(t.dirs, d)
		}
	}
	t.st.Kept++
	return nil
}

// readManifest reads the previous export's manifest into the scratch
// file, one entry at a time, keeping only entries that could have been
// written by an export: a clean relative path made of names SafeName
// leaves alone (".versions" aside) and a SHA-256. A manifest that is not
// a regular file or not JSON counts as none. Only scratch errors are
// returned.
func (t *treeWriter) readManifest(p string) error {
	if !t.realDirs(path.Dir(p)) {
		return nil
	}
	fi, err := t.root.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f, err := t.root.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil // null is an empty manifest; anything else is none
	}
	for dec.More() {
		var e ManifestEntry
		if dec.Decode(&e) != nil {
			return t.scratch.dropOld(t.ctx)
		}
		if validManifestPath(e.Path) && isSHA256Hex(e.SHA256) {
			if err := t.scratch.addOld(t.ctx, e); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return t.scratch.dropOld(t.ctx)
	}
	return nil
}

func validManifestPath(p string) bool {
	if p == "" || !utf8.ValidString(p) || path.Clean(p) != p || path.IsAbs(p) || !filepath.IsLocal(filepath.FromSlash(p)) {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg != versionsDir && SafeName(seg) != seg {
			return false
		}
	}
	return true
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// writeManifest replaces the manifest (atomically) unless it already
// holds these entries. The new one is written beside it and compared a
// block at a time.
func (t *treeWriter) writeManifest(p string) error {
	if err := t.ensureDir(path.Dir(p)); err != nil {
		return err
	}
	fi, err := t.root.Lstat(p)
	same := err == nil && fi.Mode().IsRegular()
	if err == nil && !same {
		if err := t.moveAside(p); err != nil {
			return err
		}
	}
	tmp := path.Join(path.Dir(p), tmpPrefix+"manifest")
	if err := t.root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := t.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = t.scratch.writeManifest(t.ctx, bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && same && t.sameFiles(tmp, p) {
		return t.root.Remove(tmp)
	}
	if err == nil {
		err = t.root.Rename(tmp, p)
	}
	if err != nil {
		t.root.Remove(tmp)
	}
	return err
}

// sameFiles reports whether a and b hold the same bytes.
func (t *treeWriter) sameFiles(a, b string) bool {
	fa, err := t.root.Open(a)
	if err != nil {
		return false
	}
	defer fa.Close()
	fb, err := t.root.Open(b)
	if err != nil {
		return false
	}
	defer fb.Close()
	ia, err1 := fa.Stat()
	ib, err2 := fb.Stat()
	if err1 != nil || err2 != nil || !ib.Mode().IsRegular() || ia.Size() != ib.Size() {
		return false
	}
	ba, bb := make([]byte, 32<<10), make([]byte, 32<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return ea == eb || (ea == io.ErrUnexpectedEOF && eb == io.ErrUnexpectedEOF) || (errors.Is(ea, io.EOF) && errors.Is(eb, io.EOF))
		}
	}
}

// SafePath makes each segment of a folder path safe. Segments that are
// empty, "." or ".." are dropped: a folder path never climbs.
func SafePath(p string) string {
	var segs []string
	for _, s := range strings.Split(strings.ReplaceAll(p, `\`, "/"), "/") {
		if s == "" || s == "." || s == ".." {
			continue
		}
		segs = append(segs, SafeName(s))
	}
	return strings.Join(segs, "/")
}

var reserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true, ".LOCK": true, "DESKTOP.INI": true, "_VTI_": true}

func init() {
	for _, d := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³"} {
		reserved["COM"+d] = true
		reserved["LPT"+d] = true
	}
}

// maxNameBytes is SharePoint's and most filesystems' limit per segment.
const maxNameBytes = 255

// SafeName makes one path segment safe on Windows, SharePoint and POSIX:
// no separators, no reserved or invalid characters or names (CON, NUL,
// COM1...; ".versions" and ".syncd-*", which the tree export keeps for
// itself), no control or bidi-override characters, no leading or trailing
// spaces or trailing dots, NFC, at most 255 bytes (a longer name keeps its
// extension and gets a short hash of the whole name, so two long names
// stay apart).
func SafeName(name string) string {
	name = norm.NFC.String(strings.ToValidUTF8(name, "_"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			b.WriteByte('_')
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			b.WriteByte('_')
		case strings.ContainsRune(`"*:<>?/\|#%`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(b.String()), ". "))
	for i := 0; i+5 <= len(name); i++ { // SharePoint refuses "_vti_" anywhere
		if strings.EqualFold(name[i:i+5], "_vti_") {
			name = name[:i] + "-vti-" + name[i+5:]
		}
	}
	if name == "" || name == "." || name == ".." {
		name = "unnamed"
	}
	upper := strings.ToUpper(name)
	stem, _, _ := strings.Cut(upper, ".")
	stem = strings.TrimRight(stem, " ")
	switch {
	case reserved[stem], reserved[upper], strings.HasPrefix(name, "~$"),
		strings.ToLower(name) == versionsDir, strings.HasPrefix(strings.ToLower(name), reservedPfx):
		name = "_" + name
	}
	return fitName(name)
}

// fitName shortens a name longer than maxNameBytes: the start of its stem,
// "~", 8 hex digits of the whole name's SHA-256, its extension.
func fitName(name string) string {
	if len(name) <= maxNameBytes {
		return name
	}
	ext := extOf(name)
	sum := sha256.Sum256([]byte(name))
	tag := "~" + hex.EncodeToString(sum[:4])
	stem := cutBytes(strings.TrimSuffix(name, ext), maxNameBytes-len(ext)-len(tag))
	return strings.TrimRight(stem, ". ") + tag + ext
}

// extOf is name's extension if it is a plausible one (short, no spaces).
func extOf(name string) string {
	ext := path.Ext(name)
	if len(ext) > 16 || len(ext) == len(name) || strings.ContainsAny(ext, " ") {
		return ""
	}
	return ext
}

// cutBytes cuts s to at most n bytes on a rune boundary.
func cutBytes(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
