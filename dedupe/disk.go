package dedupe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Disk is a BlobStore in a local directory: blobs/ab/<64 hex>, written to
// tmp/ first and renamed into place once durable.
//
// New blobs are made durable in groups: Put writes and closes the
// temporary file; Flush makes every pending blob durable with one syncfs,
// renames them into place and syncs again. A pending blob is already
// readable through Has/Stat/Open (so a run can dedupe against it) but is
// not in blobs/ until Flush; the engine flushes before each catalog
// commit, so a committed sighting never names a blob that could be lost in
// a crash. Puts go on while a Flush waits for the disk.
//
// Stores created before the layout file existed keep their two-level
// layout (blobs/ab/cd/<64 hex>); see docs/design.md.
type Disk struct {
	root    string
	nested  bool       // the old layout: blobs/ab/cd/<hex>
	flushMu sync.Mutex // one Flush at a time
	mu      sync.Mutex // guards dirs and pending
	dirs    map[string]bool
	pending map[ID]pendingBlob
}

type pendingBlob struct {
	tmp  string
	size int64
}

// Flusher is implemented by stores that defer durability; the engine calls
// Flush before committing sightings that name new blobs.
type Flusher interface {
	Flush(ctx context.Context) error
}

var _ Flusher = (*Disk)(nil)

var _ BlobStore = (*Disk)(nil)

// layoutFile records how blobs are filed, so that the layout can change
// without misreading stores made before.
const (
	layoutFile   = "layout"
	layoutFlat   = "syncd blob store 2: blobs/<2 hex>/<64 hex>\n"
	layoutNested = "syncd blob store 1: blobs/<2 hex>/<2 hex>/<64 hex>\n"
)

// OpenDisk opens (creating) a disk store rooted at dir.
func OpenDisk(dir string) (*Disk, error) {
	d := &Disk{root: dir, dirs: map[string]bool{}, pending: map[ID]pendingBlob{}}
	b, err := os.ReadFile(filepath.Join(dir, layoutFile))
	switch {
	case err == nil && string(b) == layoutFlat:
	case err == nil && string(b) == layoutNested:
		d.nested = true
	case err == nil:
		return nil, fmt.Errorf("blob store %s: unknown layout %q (made by a newer syncd?)", dir, strings.TrimSpace(string(b)))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("blob store %s: %w", dir, err)
	case exists(filepath.Join(dir, "blobs")):
		// Made before the layout file: the two-level layout. Opening a
		// store writes nothing to it (a dry run opens it too).
		d.nested = true
	default:
		if err := writeDurable(dir, layoutFile, []byte(layoutFlat)); err != nil {
			return nil, fmt.Errorf("blob store %s: %w", dir, err)
		}
	}
	for _, sub := range []string{"blobs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("blob store %s: %w", dir, err)
		}
	}
	return d, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writeDurable creates dir/name with data, synced with its directory
// (before any blob is filed by the layout it names).
func writeDurable(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	df, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = df.Sync()
	if cerr := df.Close(); err == nil {
		err = cerr
	}
	return err
}

// Root is the store's directory.
func (d *Disk) Root() string { return d.root }

func (d *Disk) path(id ID) string {
	h := id.String()
	if d.nested {
		return filepath.Join(d.root, "blobs", h[:2], h[2:4], h)
	}
	return filepath.Join(d.root, "blobs", h[:2], h)
}

// Put implements BlobStore. The new blob is pending until Flush.
func (d *Disk) Put(ctx context.Context, r io.Reader) (Sums, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "put-*")
	if err != nil {
		return Sums{}, fmt.Errorf("blob store: %w", err)
	}
	tmpName := tmp.Name()
	h := NewHasher()
	buf := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(io.MultiWriter(tmp, h), ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmpName)
		return Sums{}, fmt.Errorf("blob store: write: %w", err)
	}
	sums := h.Sums()
	dst := d.path(sums.ID)
	d.mu.Lock()
	_, pend := d.pending[sums.ID]
	d.mu.Unlock()
	if !pend {
		if _, serr := os.Stat(dst); serr != nil {
			// Make the blob's directory now, on this goroutine, so that
			// Flush only renames.
			if err := d.mkdir(filepath.Dir(dst)); err != nil {
				os.Remove(tmpName)
				return Sums{}, err
			}
			d.mu.Lock()
			if _, pend = d.pending[sums.ID]; !pend {
				d.pending[sums.ID] = pendingBlob{tmp: tmpName, size: sums.Size}
				d.mu.Unlock()
				return sums, nil
			}
			d.mu.Unlock()
		}
	}
	os.Remove(tmpName) // already stored or pending: keep that copy
	return sums, nil
}

// Flush makes every pending blob durable and moves it into place. Puts,
// reads and other stores' work go on meanwhile; blobs put after Flush
// started are left for the next one.
func (d *Disk) Flush(ctx context.Context) error {
	d.flushMu.Lock()
	defer d.flushMu.Unlock()
	d.mu.Lock()
	type entry struct {
		id  ID
		tmp string
	}
	batch := make([]entry, 0, len(d.pending))
	for id, p := range d.pending {
		batch = append(batch, entry{id, p.tmp})
	}
	d.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := syncFS(filepath.Join(d.root, "tmp")); err != nil {
		return fmt.Errorf("blob store: sync: %w", err)
	}
	for _, e := range batch {
		dst := d.path(e.id)
		if err := d.mkdir(filepath.Dir(dst)); err != nil {
			return err
		}
		if err := os.Rename(e.tmp, dst); err != nil {
			d.mu.Lock()
			p, still := d.pending[e.id]
			d.mu.Unlock()
			if !still || p.tmp != e.tmp {
				continue // removed meanwhile
			}
			return fmt.Errorf("blob store: commit %s: %w", e.id.Short(), err)
		}
		d.mu.Lock()
		if p, ok := d.pending[e.id]; ok && p.tmp == e.tmp {
			delete(d.pending, e.id)
		}
		d.mu.Unlock()
	}
	if err := syncFS(d.root); err != nil {
		return fmt.Errorf("blob store: sync: %w", err)
	}
	return nil
}

func (d *Disk) pendingPath(id ID) (pendingBlob, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.pending[id]
	return p, ok
}

// mkdir makes a blob directory once per process.
func (d *Disk) mkdir(dir string) error {
	d.mu.Lock()
	done := d.dirs[dir]
	d.mu.Unlock()
	if done {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	d.mu.Lock()
	d.dirs[dir] = true
	d.mu.Unlock()
	return nil
}

// syncFS flushes the whole filesystem holding dir: one call makes every
// pending blob (data and directory entries) durable.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(f.Fd()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Has implements BlobStore.
func (d *Disk) Has(ctx context.Context, id ID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if _, ok := d.pendingPath(id); ok {
		return true, nil
	}
	_, err := os.Stat(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Stat implements BlobStore.
func (d *Disk) Stat(ctx context.Context, id ID) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if p, ok := d.pendingPath(id); ok {
		return Info{ID: id, Size: p.size}, nil
	}
	fi, err := os.Stat(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Info{}, err
	}
	return Info{ID: id, Size: fi.Size()}, nil
}

// Open implements BlobStore.
func (d *Disk) Open(ctx context.Context, id ID) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := d.path(id)
	if p, ok := d.pendingPath(id); ok {
		f, err := os.Open(p.tmp)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		// Flush moved it into place meanwhile.
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return f, err
}

// Path returns the file holding id (for tools that need a file name).
func (d *Disk) Path(id ID) string { return d.path(id) }

// Walk implements BlobStore: pending blobs first, then stored ones.
func (d *Disk) Walk(ctx context.Context, fn func(Info) error) error {
	d.mu.Lock()
	var pend []Info
	for id, p := range d.pending {
		pend = append(pend, Info{ID: id, Size: p.size})
	}
	d.mu.Unlock()
	for _, in := range pend {
		if err := fn(in); err != nil {
			return err
		}
	}
	return filepath.WalkDir(filepath.Join(d.root, "blobs"), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if e.IsDir() {
			return nil
		}
		id, perr := ParseID(e.Name())
		if perr != nil || p != d.path(id) {
			return nil // not ours
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		return fn(Info{ID: id, Size: fi.Size()})
	})
}

// Remove implements BlobStore.
func (d *Disk) Remove(ctx context.Context, id ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	if p, ok := d.pending[id]; ok {
		delete(d.pending, id)
		d.mu.Unlock()
		return os.Remove(p.tmp)
	}
	d.mu.Unlock()
	err := os.Remove(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return err
}

// CleanTemp removes temporary files older than minAge, left by
// interrupted runs (younger ones may belong to a run in progress).
func (d *Disk) CleanTemp(minAge time.Duration) (int, error) {
	ents, err := os.ReadDir(filepath.Join(d.root, "tmp"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < minAge {
			continue
		}
		if os.Remove(filepath.Join(d.root, "tmp", e.Name())) == nil {
			n++
		}
	}
	return n, nil
}
