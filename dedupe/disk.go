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
)

// Disk is a BlobStore in a local directory: blobs/ab/cd/<64 hex>, written
// to tmp/ first, fsynced, then renamed into place and the directory fsynced.
type Disk struct {
	root string
	mu   sync.Mutex // guards dirs
	dirs map[string]bool
}

var _ BlobStore = (*Disk)(nil)

// OpenDisk opens (creating) a disk store rooted at dir.
func OpenDisk(dir string) (*Disk, error) {
	for _, d := range []string{"blobs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("blob store %s: %w", dir, err)
		}
	}
	return &Disk{root: dir, dirs: map[string]bool{}}, nil
}

// Root is the store's directory.
func (d *Disk) Root() string { return d.root }

func (d *Disk) path(id ID) string {
	h := id.String()
	return filepath.Join(d.root, "blobs", h[:2], h[2:4], h)
}

// Put implements BlobStore.
func (d *Disk) Put(ctx context.Context, r io.Reader) (Sums, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "put-*")
	if err != nil {
		return Sums{}, fmt.Errorf("blob store: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	h := NewHasher()
	buf := make([]byte, copyBufSize)
	_, err = io.CopyBuffer(io.MultiWriter(tmp, h), ctxReader{ctx, r}, buf)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Sums{}, fmt.Errorf("blob store: write: %w", err)
	}
	sums := h.Sums()
	dst := d.path(sums.ID)
	if _, err := os.Stat(dst); err == nil {
		return sums, nil // already stored: keep the existing copy
	}
	dir := filepath.Dir(dst)
	if err := d.mkdir(dir); err != nil {
		return Sums{}, err
	}
	if err := os.Rename(tmpName, dst); err != nil {
		return Sums{}, fmt.Errorf("blob store: commit %s: %w", sums.ID.Short(), err)
	}
	if err := syncDir(dir); err != nil {
		return Sums{}, fmt.Errorf("blob store: commit %s: %w", sums.ID.Short(), err)
	}
	return sums, nil
}

func (d *Disk) mkdir(dir string) error {
	d.mu.Lock()
	known := d.dirs[dir]
	d.mu.Unlock()
	if known {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	// Make the new directory entries durable too.
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	d.mu.Lock()
	d.dirs[dir] = true
	d.mu.Unlock()
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
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
	f, err := os.Open(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return f, err
}

// Path returns the file holding id (for tools that need a file name).
func (d *Disk) Path(id ID) string { return d.path(id) }

// Walk implements BlobStore.
func (d *Disk) Walk(ctx context.Context, fn func(Info) error) error {
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
		if perr != nil || !strings.HasSuffix(p, filepath.Join(e.Name()[:2], e.Name()[2:4], e.Name())) {
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
	err := os.Remove(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return err
}

// CleanTemp removes temporary files left by interrupted Puts.
func (d *Disk) CleanTemp() (int, error) {
	ents, err := os.ReadDir(filepath.Join(d.root, "tmp"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if os.Remove(filepath.Join(d.root, "tmp", e.Name())) == nil {
			n++
		}
	}
	return n, nil
}
