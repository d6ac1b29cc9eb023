package engine

import (
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
// catalog changes nothing.
func ExportTree(ctx context.Context, cat *workspace.Catalog, blobs dedupe.BlobStore, dir string) (TreeStats, error) {
	docs, err := cat.Documents(ctx)
	if err != nil {
		return TreeStats{}, err
	}
	seen := map[int64]string{}
	err = cat.EachSighting(ctx, func(s workspace.Sighting) error {
		seen[s.ID] = describeSighting(s)
		return nil
	})
	if err != nil {
		return TreeStats{}, err
	}
	return WriteTree(ctx, docs, seen, blobs, dir)
}

// WriteTree is ExportTree over documents already loaded; seen describes
// sightings by id. Every file operation goes through an os.Root opened on
// dir, so no name, manifest entry or symlink reaches outside it; symlinks
// inside it are never followed either (they are moved aside like any
// other thing in the way).
func WriteTree(ctx context.Context, docs []workspace.Document, seen map[int64]string, blobs dedupe.BlobStore, dir string) (TreeStats, error) {
	var st TreeStats
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return st, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, err
	}
	defer root.Close()
	byWS := map[string][]workspace.Document{}
	for _, d := range docs {
		byWS[d.Workspace] = append(byWS[d.Workspace], d)
	}
	wss := make([]string, 0, len(byWS))
	for w := range byWS {
		wss = append(wss, w)
	}
	sort.Strings(wss)
	t := &treeWriter{ctx: ctx, root: root, blobs: blobs, st: &st, dirs: map[string]bool{}}
	names := newClaims()
	for _, w := range wss {
		ws := names.claim("", SafeName(w))
		if err := t.workspace(ws, planTree(byWS[w], seen)); err != nil {
			return st, err
		}
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

// claims hands out file names that no other file or folder of the export
// has taken, compared case-insensitively (the folder must survive a copy
// to SMB or Windows).
type claims struct{ taken map[string]bool }

func newClaims() *claims { return &claims{taken: map[string]bool{}} }

func (c *claims) claim(dir, name string) string {
	cand := path.Join(dir, name)
	for n := 2; c.taken[strings.ToLower(cand)]; n++ {
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

// planTree decides every file's path. Everything is decided in document
// key order (keys are stable: they come from content), never in map or
// ingest order, so the same catalog always gives the same tree. Folders
// are claimed before files, so a document never takes a folder's name;
// folders differing only in case become one.
func planTree(docs []workspace.Document, seen map[int64]string) []ManifestEntry {
	docs = append([]workspace.Document(nil), docs...)
	sort.Slice(docs, func(i, j int) bool { return docs[i].Key < docs[j].Key })
	c := newClaims()
	spelling := map[string]string{} // lower-case folder path -> its spelling
	folderOf := make([]string, len(docs))
	for i, d := range docs {
		if len(d.Versions) == 0 {
			continue
		}
		cur := ""
		for _, seg := range strings.Split(SafePath(d.Folder), "/") {
			if seg == "" {
				continue
			}
			next := path.Join(cur, seg)
			if s, ok := spelling[strings.ToLower(next)]; ok {
				next = s
			} else {
				spelling[strings.ToLower(next)] = next
				c.taken[strings.ToLower(next)] = true
			}
			cur = next
		}
		folderOf[i] = cur
	}
	var out []ManifestEntry
	for i, d := range docs {
		if len(d.Versions) == 0 {
			continue
		}
		latest := c.claim(folderOf[i], SafeName(d.Name))
		vdir := path.Join(folderOf[i], versionsDir, path.Base(latest))
		vs := append([]workspace.Version(nil), d.Versions...)
		sort.SliceStable(vs, func(i, j int) bool {
			if vs[i].Seq != vs[j].Seq {
				return vs[i].Seq < vs[j].Seq
			}
			return vs[i].Key < vs[j].Key
		})
		last := vs[len(vs)-1]
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
	}
	return out
}

// treeWriter does the file operations of one export, all through root.
type treeWriter struct {
	ctx   context.Context
	root  *os.Root
	blobs dedupe.BlobStore
	st    *TreeStats
	dirs  map[string]bool // folders checked (or made) by this export
}

// workspace writes one workspace's files under ws, then its manifest, then
// removes what the previous export wrote and this one no longer has.
func (t *treeWriter) workspace(ws string, entries []ManifestEntry) error {
	old := t.readManifest(path.Join(ws, ManifestName))
	oldAt := map[string]ManifestEntry{}
	for _, o := range old {
		if _, dup := oldAt[o.Path]; !dup {
			oldAt[o.Path] = o
		}
	}
	var done []ManifestEntry
	keep := map[string]bool{}
	for _, e := range entries {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		keep[e.Path] = true
		size, wrote, err := t.writeFile(path.Join(ws, e.Path), e, oldAt[e.Path])
		if err != nil {
			t.st.Problems = append(t.st.Problems, err.Error())
			if o, ok := oldAt[e.Path]; ok {
				done = append(done, o) // still on disk, still ours
			}
			continue
		}
		e.Size = size
		done = append(done, e)
		t.st.Files++
		if wrote {
			t.st.Written++
		} else {
			t.st.Unchanged++
		}
	}
	if err := t.writeManifest(path.Join(ws, ManifestName), done); err != nil {
		return err
	}
	for _, o := range old {
		if keep[o.Path] {
			continue
		}
		keep[o.Path] = true
		p := path.Join(ws, o.Path)
		if !t.realDirs(path.Dir(p)) {
			continue
		}
		if fi, err := t.root.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if sum, err := t.hashFile(p); err == nil && sum == o.SHA256 && t.root.Remove(p) == nil {
			t.st.Removed++
		}
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

// readManifest reads the previous export's manifest, keeping only entries
// that could have been written by an export: a clean relative path made of
// names SafeName leaves alone (".versions" aside) and a SHA-256. A
// manifest that is not a regular file or not JSON counts as none.
func (t *treeWriter) readManifest(p string) []ManifestEntry {
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
	var all []ManifestEntry
	if json.NewDecoder(f).Decode(&all) != nil {
		return nil
	}
	var out []ManifestEntry
	for _, e := range all {
		if validManifestPath(e.Path) && isSHA256Hex(e.SHA256) {
			out = append(out, e)
		}
	}
	return out
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
// holds these entries.
func (t *treeWriter) writeManifest(p string, entries []ManifestEntry) error {
	if entries == nil {
		entries = []ManifestEntry{}
	}
	b, err := json.MarshalIndent(entries, "", " ")
	if err != nil {
		return err
	}
	if err := t.ensureDir(path.Dir(p)); err != nil {
		return err
	}
	fi, err := t.root.Lstat(p)
	if err == nil && fi.Mode().IsRegular() {
		if old, err := t.root.ReadFile(p); err == nil && bytes.Equal(old, b) {
			return nil
		}
	} else if err == nil {
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
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = t.root.Rename(tmp, p)
	}
	if err != nil {
		t.root.Remove(tmp)
	}
	return err
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
