package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/net/webdav"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
)

// The workspaces as a read-only WebDAV share at /dav/, so a person can
// map a drive: /dav/ holds a folder per workspace the principal may see,
// and each is the folder the tree export writes (engine.TreeFolders names
// every folder and file as engine.ExportTree does): the current version
// of each document at its path, the earlier ones under
// .versions/<name>/. A file's bytes are audited as a download before they
// are sent; listings are not audited (like a folder page's links, they
// name what there is, not its content). Nothing can be written.

// davPrefix is where the share is mounted (Handler: "/dav/").
const davPrefix = "/dav"

// davAllow are the methods the share answers; the others are refused.
const davAllow = "OPTIONS, GET, HEAD, PROPFIND"

// davMaxPropfind bounds a PROPFIND's body.
const davMaxPropfind = 1 << 20

func (s *Server) dav(w http.ResponseWriter, r *http.Request, p *Principal) {
	h := w.Header()
	// Class 1 only: no locks, so clients (Finder, Explorer) mount it
	// read-only.
	h.Set("DAV", "1")
	h.Set("MS-Author-Via", "DAV")
	switch r.Method {
	case http.MethodOptions:
		h.Set("Allow", davAllow)
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodGet, http.MethodHead, "PROPFIND":
	default:
		// PUT, DELETE, MKCOL, COPY, MOVE, PROPPATCH, LOCK, UNLOCK, POST:
		// 403, not 405, which some clients take for "already there".
		h.Set("Allow", davAllow)
		s.fail(w, r, http.StatusForbidden, "the workspaces are read-only here")
		return
	}
	if r.Method == "PROPFIND" {
		// A listing of everything below (Depth: infinity, or no Depth)
		// is refused as RFC 4918 allows: a client lists folder by folder.
		if d := r.Header.Get("Depth"); d != "0" && d != "1" {
			h.Set("Content-Type", "application/xml; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, davMaxPropfind)
	}
	fsys := newDavFS(s, p, r)
	defer fsys.close()
	n, err := fsys.resolve(r.Context(), strings.TrimPrefix(r.URL.Path, davPrefix))
	if errors.Is(err, fs.ErrNotExist) {
		// The same answer whether it does not exist or is not theirs.
		s.fail(w, r, http.StatusNotFound, "no such file or folder")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if n.dir && r.Method == "PROPFIND" && r.Header.Get("Depth") == "1" {
		// Listed here, so that a catalog error is a 500, not a
		// multistatus cut short.
		if _, err := fsys.children(r.Context(), n); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	if n.entry != nil && r.Method == http.MethodGet {
		// As the download page does: the blob opened, then the audit
		// row written, then the bytes; the reader opened here is the
		// one served.
		e := n.entry
		rc, err := fsys.open(r.Context(), n)
		if err != nil {
			s.internal(w, r, fmt.Errorf("open %s: %w", e.SHA256, err))
			return
		}
		fsys.pre, fsys.preNode = rc, n
		if s.audit(r, p, "serve.download", e.Document+" "+e.Version, "sha256 "+e.SHA256, n.ws, e.Document) != nil {
			s.fail(w, r, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing is downloaded")
			return
		}
	}
	if n.entry != nil && r.Method != "PROPFIND" {
		// Never sniffed, never rendered: a stranger's bytes.
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", attachment(n.name))
	}
	dh := &webdav.Handler{Prefix: davPrefix, FileSystem: fsys, LockSystem: davNoLocks{}, Logger: func(r *http.Request, err error) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, context.Canceled) {
			s.logger().Warn("serve: webdav", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}}
	dh.ServeHTTP(w, r)
}

// davFS is the share as one request of one principal sees it. What it
// reads (the workspaces, each workspace's folders, each folder's listing,
// blob sizes) is kept for the request: a PROPFIND stats every file of a
// folder, and each must not read the folder again. A request runs in one
// goroutine, so nothing is locked.
type davFS struct {
	s *Server
	p *Principal
	r *http.Request

	wss      []string // the workspaces p may see, sorted
	wsNames  []string // their folders' names (engine.TreeWorkspaceNames)
	wssRead  bool
	folders  map[string]*engine.TreeFolders
	listings map[string]*davListing // by workspace + "\x00" + exported folder
	sizes    map[string]int64       // by SHA-256

	// pre is the blob the GET's file was opened at (before its audit),
	// for preNode's first OpenFile.
	pre     io.ReadCloser
	preNode *davNode
	nodes   map[string]*davNode // resolved names
}

func newDavFS(s *Server, p *Principal, r *http.Request) *davFS {
	return &davFS{s: s, p: p, r: r, folders: map[string]*engine.TreeFolders{}, listings: map[string]*davListing{},
		sizes: map[string]int64{}, nodes: map[string]*davNode{}}
}

func (d *davFS) close() {
	if d.pre != nil {
		d.pre.Close()
		d.pre = nil
	}
}

// davNode is a folder or file of the share.
type davNode struct {
	key  string // its path under /dav/ as requested (no leading or trailing slash)
	name string // its name in its folder
	ws   string // its workspace ("" for /dav/ itself)
	dir  bool
	// path is the folder's or file's path in the workspace's folder, as
	// exported; real says a folder is one of the export's folders (not
	// .versions or .versions/<name>, which only hold files).
	path   string
	real   bool
	entry  *engine.ManifestEntry // a file's
	size   int64
	mod    time.Time
	kids   []fs.FileInfo // a folder's, once listed
	listed bool
}

func (n *davNode) Name() string       { return n.name }
func (n *davNode) Size() int64        { return n.size }
func (n *davNode) ModTime() time.Time { return n.mod }
func (n *davNode) IsDir() bool        { return n.dir }
func (n *davNode) Sys() any           { return nil }
func (n *davNode) Mode() fs.FileMode {
	if n.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// ETag is the content's SHA-256 (webdav.ETager): the same bytes, the same
// tag, wherever the file is.
func (n *davNode) ETag(context.Context) (string, error) {
	if n.entry == nil {
		return "", webdav.ErrNotImplemented
	}
	return `"` + n.entry.SHA256 + `"`, nil
}

// ContentType (webdav.ContentTyper) never reads the file to sniff it.
func (n *davNode) ContentType(context.Context) (string, error) {
	return "application/octet-stream", nil
}

// visible reads the workspaces p may see and their folders' names. The
// names are claimed among those workspaces only: a name numbered for a
// workspace p may not see would tell them it exists.
func (d *davFS) visible() error {
	if d.wssRead {
		return nil
	}
	wss, err := d.s.visibleWorkspaces(d.r, d.p)
	if err != nil {
		return err
	}
	for _, w := range wss {
		d.wss = append(d.wss, w.Name)
	}
	d.wsNames = engine.TreeWorkspaceNames(d.wss)
	d.wssRead = true
	return nil
}

func (d *davFS) treeFolders(ctx context.Context, ws string) (*engine.TreeFolders, error) {
	if tf, ok := d.folders[ws]; ok {
		return tf, nil
	}
	tf, err := engine.ReadTreeFolders(ctx, d.s.Cat, ws)
	if err != nil {
		return nil, err
	}
	d.folders[ws] = tf
	return tf, nil
}

// davListing is an exported folder's listing with its files and the
// folders of their earlier versions by path (lower case).
type davListing struct {
	*engine.TreeListing
	files map[string]*engine.ManifestEntry
	dirs  map[string]string // .versions and .versions/<name>, as spelled
}

// listing is the exported folder dir (spelled as exported) of ws.
func (d *davFS) listing(ctx context.Context, ws, dir string) (*davListing, error) {
	key := ws + "\x00" + dir
	if l, ok := d.listings[key]; ok {
		return l, nil
	}
	tf, err := d.treeFolders(ctx, ws)
	if err != nil {
		return nil, err
	}
	tl, ok, err := tf.Listing(ctx, dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fs.ErrNotExist
	}
	l := &davListing{TreeListing: &tl, files: make(map[string]*engine.ManifestEntry, len(tl.Files)), dirs: map[string]string{}}
	for i := range tl.Files {
		e := &tl.Files[i]
		l.files[strings.ToLower(e.Path)] = e
		for p := path.Dir(e.Path); p != dir && p != "."; p = path.Dir(p) {
			l.dirs[strings.ToLower(p)] = p
		}
	}
	d.listings[key] = l
	return l, nil
}

// fileNode is the file of entry e.
func (d *davFS) fileNode(ctx context.Context, ws string, e *engine.ManifestEntry) (*davNode, error) {
	size, ok := d.sizes[e.SHA256]
	if !ok {
		id, err := dedupe.ParseID(e.SHA256)
		if err != nil {
			return nil, err
		}
		var known bool
		if size, known, err = d.s.Cat.BlobSize(ctx, id); err != nil {
			return nil, err
		}
		if !known {
			return nil, fmt.Errorf("blob %s of document %s version %s is not in the catalog", id.Short(), e.Document, e.Version)
		}
		d.sizes[e.SHA256] = size
	}
	n := &davNode{name: path.Base(e.Path), ws: ws, path: e.Path, entry: e, size: size}
	if e.Time != "" {
		n.mod, _ = time.Parse(time.RFC3339, e.Time)
	}
	return n, nil
}

// resolve finds the folder or file at name (a path under /dav/), matched
// case-insensitively as the export claims names; fs.ErrNotExist when
// there is none or it is in a workspace p may not see.
func (d *davFS) resolve(ctx context.Context, name string) (*davNode, error) {
	var segs []string
	for _, seg := range strings.Split(name, "/") {
		if seg != "" && seg != "." {
			if seg == ".." {
				return nil, fs.ErrNotExist
			}
			segs = append(segs, seg)
		}
	}
	key := strings.Join(segs, "/")
	if n, ok := d.nodes[key]; ok {
		return n, nil
	}
	n, err := d.find(ctx, segs)
	if err != nil {
		return nil, err
	}
	n.key = key
	d.nodes[key] = n
	return n, nil
}

func (d *davFS) find(ctx context.Context, segs []string) (*davNode, error) {
	if len(segs) == 0 {
		return &davNode{name: "/", dir: true}, nil
	}
	if err := d.visible(); err != nil {
		return nil, err
	}
	ws, wsName := "", ""
	for i, n := range d.wsNames {
		if strings.EqualFold(n, segs[0]) && d.p.Role(d.wss[i]) >= Viewer {
			ws, wsName = d.wss[i], n
		}
	}
	if wsName == "" {
		return nil, fs.ErrNotExist
	}
	tf, err := d.treeFolders(ctx, ws)
	if err != nil {
		return nil, err
	}
	// The deepest folder of the export on the way: no file or
	// .versions folder is named like a folder beside it.
	rest, dir := segs[1:], ""
	for len(rest) > 0 {
		sp, ok := tf.Find(path.Join(dir, rest[0]))
		if !ok {
			break
		}
		dir, rest = sp, rest[1:]
	}
	if len(rest) == 0 {
		n := &davNode{name: path.Base(dir), ws: ws, dir: true, path: dir, real: true}
		if dir == "" {
			n.name = wsName
		}
		return n, nil
	}
	// A file of dir, or a folder of its earlier versions.
	l, err := d.listing(ctx, ws, dir)
	if err != nil {
		return nil, err
	}
	want := strings.ToLower(path.Join(dir, path.Join(rest...)))
	if e, ok := l.files[want]; ok {
		return d.fileNode(ctx, ws, e)
	}
	if p, ok := l.dirs[want]; ok {
		return &davNode{name: path.Base(p), ws: ws, dir: true, path: p}, nil
	}
	return nil, fs.ErrNotExist
}

// children lists a folder of the share, once. The children are kept as
// resolved under n's path: a PROPFIND stats each.
func (d *davFS) children(ctx context.Context, n *davNode) ([]fs.FileInfo, error) {
	if n.listed {
		return n.kids, nil
	}
	kids, err := d.list(ctx, n)
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		k := k.(*davNode)
		k.key = path.Join(n.key, k.name)
		if _, ok := d.nodes[k.key]; !ok {
			d.nodes[k.key] = k
		}
	}
	n.kids, n.listed = kids, true
	return kids, nil
}

func (d *davFS) list(ctx context.Context, n *davNode) ([]fs.FileInfo, error) {
	var out []fs.FileInfo
	if n.ws == "" {
		if err := d.visible(); err != nil {
			return nil, err
		}
		for i, w := range d.wss {
			if d.p.Role(w) >= Viewer {
				out = append(out, &davNode{name: d.wsNames[i], ws: w, dir: true, real: true})
			}
		}
		return out, nil
	}
	// The folder's listing: its own folder's when it is .versions or
	// .versions/<name>.
	dir := n.path
	if !n.real {
		for dir != "" && path.Base(dir) != engine.VersionsDir {
			dir = path.Dir(dir)
		}
		if dir = path.Dir(dir); dir == "." {
			dir = ""
		}
	}
	l, err := d.listing(ctx, n.ws, dir)
	if err != nil {
		return nil, err
	}
	if n.real {
		for _, f := range l.Folders {
			out = append(out, &davNode{name: f, ws: n.ws, dir: true, path: path.Join(dir, f), real: true})
		}
	}
	prefix := ""
	if n.path != "" {
		prefix = n.path + "/"
	}
	seen := map[string]bool{}
	for i := range l.Files {
		e := &l.Files[i]
		rel, ok := strings.CutPrefix(e.Path, prefix)
		if !ok {
			continue
		}
		if sub, _, deeper := strings.Cut(rel, "/"); deeper {
			if !seen[sub] {
				seen[sub] = true
				out = append(out, &davNode{name: sub, ws: n.ws, dir: true, path: prefix + sub})
			}
			continue
		}
		f, err := d.fileNode(ctx, n.ws, e)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// open opens n's blob.
func (d *davFS) open(ctx context.Context, n *davNode) (io.ReadCloser, error) {
	id, err := dedupe.ParseID(n.entry.SHA256)
	if err != nil {
		return nil, err
	}
	return d.s.Blobs.Open(ctx, id)
}

// The webdav.FileSystem: reads only.

func (d *davFS) Mkdir(context.Context, string, os.FileMode) error { return os.ErrPermission }
func (d *davFS) RemoveAll(context.Context, string) error          { return os.ErrPermission }
func (d *davFS) Rename(context.Context, string, string) error     { return os.ErrPermission }

func (d *davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	return d.resolve(ctx, name)
}

func (d *davFS) OpenFile(ctx context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, os.ErrPermission
	}
	n, err := d.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	f := &davFile{fsys: d, n: n, ctx: ctx}
	if n == d.preNode && d.pre != nil {
		f.rc, d.pre = d.pre, nil
	}
	return f, nil
}

// davFile is an open folder or file of the share. A file streams its
// blob from the store; Seek (HTTP ranges) moves within it, reopening the
// blob when the store's reader cannot seek back.
type davFile struct {
	fsys *davFS
	n    *davNode
	ctx  context.Context

	kids   []fs.FileInfo // what Readdir has not returned yet
	listed bool

	pos  int64         // where the next Read reads
	rc   io.ReadCloser // the blob, at rpos
	rpos int64
}

func (f *davFile) Stat() (fs.FileInfo, error) { return f.n, nil }

func (f *davFile) Write([]byte) (int, error) { return 0, os.ErrPermission }

func (f *davFile) Close() error {
	if f.rc != nil {
		err := f.rc.Close()
		f.rc = nil
		return err
	}
	return nil
}

func (f *davFile) Readdir(count int) ([]fs.FileInfo, error) {
	if !f.n.dir {
		return nil, fmt.Errorf("%s: not a folder", f.n.name)
	}
	if !f.listed {
		kids, err := f.fsys.children(f.ctx, f.n)
		if err != nil {
			return nil, err
		}
		f.kids, f.listed = append([]fs.FileInfo(nil), kids...), true
	}
	if count <= 0 {
		out := f.kids
		f.kids = nil
		return out, nil
	}
	if len(f.kids) == 0 {
		return nil, io.EOF
	}
	count = min(count, len(f.kids))
	out := f.kids[:count]
	f.kids = f.kids[count:]
	return out, nil
}

func (f *davFile) Seek(offset int64, whence int) (int64, error) {
	if f.n.dir {
		return 0, fmt.Errorf("%s: is a folder", f.n.name)
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.n.size
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	f.pos = offset
	return offset, nil
}

func (f *davFile) Read(p []byte) (int, error) {
	if f.n.dir {
		return 0, fmt.Errorf("%s: is a folder", f.n.name)
	}
	if f.pos >= f.n.size {
		return 0, io.EOF
	}
	if err := f.position(); err != nil {
		return 0, err
	}
	if left := f.n.size - f.pos; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := f.rc.Read(p)
	f.pos += int64(n)
	f.rpos += int64(n)
	if err == io.EOF && f.pos < f.n.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// position brings the blob's reader to f.pos: seeking it when it can,
// reading forward, or opening it again to go back.
func (f *davFile) position() error {
	if f.rc != nil && f.rpos == f.pos {
		return nil
	}
	if f.rc != nil {
		if sk, ok := f.rc.(io.Seeker); ok {
			if _, err := sk.Seek(f.pos, io.SeekStart); err != nil {
				return err
			}
			f.rpos = f.pos
			return nil
		}
		if f.pos < f.rpos {
			f.rc.Close()
			f.rc = nil
		}
	}
	if f.rc == nil {
		rc, err := f.fsys.open(f.ctx, f.n)
		if err != nil {
			return err
		}
		f.rc, f.rpos = rc, 0
		if sk, ok := rc.(io.Seeker); ok && f.pos > 0 {
			if _, err := sk.Seek(f.pos, io.SeekStart); err != nil {
				return err
			}
			f.rpos = f.pos
			return nil
		}
	}
	if skip := f.pos - f.rpos; skip > 0 {
		n, err := io.CopyN(io.Discard, dedupe.ContextReader(f.ctx, f.rc), skip)
		f.rpos += n
		if err != nil {
			return err
		}
	}
	return nil
}

// davNoLocks is the lock system of a share nobody writes to: LOCK and
// UNLOCK are refused before they reach it.
type davNoLocks struct{}

func (davNoLocks) Confirm(time.Time, string, string, ...webdav.Condition) (func(), error) {
	return nil, webdav.ErrConfirmationFailed
}

func (davNoLocks) Create(time.Time, webdav.LockDetails) (string, error) {
	return "", webdav.ErrNotImplemented
}

func (davNoLocks) Refresh(time.Time, string, time.Duration) (webdav.LockDetails, error) {
	return webdav.LockDetails{}, webdav.ErrNoSuchLock
}

func (davNoLocks) Unlock(time.Time, string) error { return webdav.ErrNoSuchLock }
