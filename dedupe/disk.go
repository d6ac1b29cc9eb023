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
)

// Disk is a BlobStore in a local directory: blobs/ab/<64 hex>.
//
// Put writes a blob to tmp/, hashing it, and queues it for background
// syncers that make its data durable (fdatasync, a group of blobs at a
// time) and rename it into place: a blob in blobs/ is always whole. Until
// then the blob is pending, readable from tmp/ (so a run can dedupe
// against it and sketch it), and the writer goes on to its next item
// instead of waiting for the disk. Flush settles the pending blobs, then
// fsyncs the directories whose entries changed; the engine flushes before
// each catalog commit, so a committed sighting never names a blob a crash
// could lose. A crash before
// the commit leaves at worst temporary files (CleanTemp) and whole,
// unreferenced blobs (`syncd verify --gc`).
//
// Durability is per file, not per file system: syncfs would also wait for
// every other writer's data on the same disk (measured here: 0.29 s for a
// batch alone, 1.56 s beside 450 MB another program had just written).
//
// Stores created before the layout file existed keep their two-level
// layout (blobs/ab/cd/<64 hex>); see docs/design.md.
type Disk struct {
	root    string
	nested  bool       // the old layout: blobs/ab/cd/<hex>
	flushMu sync.Mutex // one Flush at a time
	syncers chan struct{}
	group   groupLimits

	mu      sync.Mutex // guards the fields below
	settled *sync.Cond // on mu: broadcast when a pending blob settles
	dirs    map[string]bool
	dirty   map[string]bool // directories whose entries changed since the last Flush
	pending map[ID]pendingBlob
	queue   []ID        // pending blobs no syncer has taken yet
	queued  int64       // their bytes
	timer   *time.Timer // settles the queue once its first blob has waited group.after
	syncErr error       // the first background failure, reported by the next Flush
}

type pendingBlob struct {
	tmp  string
	dst  string
	size int64
}

// Blobs are made durable in groups rather than one by one as they are
// written: each fdatasync of a new file commits the file system's journal,
// and a stream of them stalls the writers behind every commit (the first
// sync of the benchmark share: 1.36 s with a sync per blob as it was
// written, 1.23 s synced in groups; median of 5 alternating runs). A group
// goes when 256 blobs or 128 MiB are queued, when its first blob has
// waited 2 s, or at Flush.
var defaultGroup = groupLimits{count: 256, bytes: 128 << 20, after: 2 * time.Second}

type groupLimits struct {
	count int
	bytes int64
	after time.Duration
}

// syncers is how many files are synced at once: the disk serves them
// together.
const syncers = 32

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
	d := &Disk{root: dir, dirs: map[string]bool{}, dirty: map[string]bool{}, pending: map[ID]pendingBlob{},
		syncers: make(chan struct{}, syncers), group: defaultGroup}
	d.settled = sync.NewCond(&d.mu)
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
	return syncDir(dir)
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

// Put implements BlobStore. The new blob is pending until the background
// syncer has made it durable and moved it into place.
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
	if _, pend := d.pending[sums.ID]; pend {
		d.mu.Unlock()
		os.Remove(tmpName) // the same content is on its way
		return sums, nil
	}
	if exists(dst) {
		// Already stored. Its entry may not be on disk yet (put by a
		// process killed before its Flush): the next Flush makes sure.
		d.dirty[filepath.Dir(dst)] = true
		d.mu.Unlock()
		os.Remove(tmpName)
		return sums, nil
	}
	d.pending[sums.ID] = pendingBlob{tmp: tmpName, dst: dst, size: sums.Size}
	d.queue = append(d.queue, sums.ID)
	d.queued += sums.Size
	var group []ID
	switch {
	case len(d.queue) >= d.group.count || d.queued >= d.group.bytes:
		group = d.takeQueueLocked()
	case len(d.queue) == 1:
		d.timer = time.AfterFunc(d.group.after, d.settleQueued)
	}
	d.mu.Unlock()
	if group != nil {
		go d.settleGroup(group)
	}
	return sums, nil
}

// takeQueueLocked (d.mu held) hands the queued blobs to the caller, which
// must settle them.
func (d *Disk) takeQueueLocked() []ID {
	group := d.queue
	d.queue, d.queued = nil, 0
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	return group
}

// settleQueued settles the blobs queued now and waits for them.
func (d *Disk) settleQueued() {
	d.mu.Lock()
	group := d.takeQueueLocked()
	d.mu.Unlock()
	d.settleGroup(group)
}

// settleGroup makes a group of pending blobs durable, many at a time, and
// moves each into place.
func (d *Disk) settleGroup(group []ID) {
	var wg sync.WaitGroup
	for _, id := range group {
		d.syncers <- struct{}{}
		wg.Go(func() {
			defer func() { <-d.syncers }()
			d.settle(id)
		})
	}
	wg.Wait()
}

// settle makes one pending blob durable and moves it into place.
func (d *Disk) settle(id ID) {
	d.mu.Lock()
	p := d.pending[id]
	d.mu.Unlock()
	tmpName, dst := p.tmp, p.dst
	err := fdatasyncFile(tmpName)
	if err == nil {
		err = d.mkdir(filepath.Dir(dst))
	}
	if err == nil {
		err = os.Rename(tmpName, dst)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.pending, id)
	d.settled.Broadcast()
	if err != nil {
		os.Remove(tmpName)
		if d.syncErr == nil {
			d.syncErr = fmt.Errorf("blob %s: %w", id.Short(), err)
		}
		return
	}
	d.dirty[filepath.Dir(dst)] = true
}

func fdatasyncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = fdatasync(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Flush waits for the pending blobs, then makes the directory entries of
// the blobs put since the last Flush durable. Puts go on meanwhile; what
// they add waits for the next Flush.
func (d *Disk) Flush(ctx context.Context) error {
	d.flushMu.Lock()
	defer d.flushMu.Unlock()
	d.settlePending()
	d.mu.Lock()
	if err := d.syncErr; err != nil {
		d.syncErr = nil
		d.mu.Unlock()
		return fmt.Errorf("blob store: sync: %w", err)
	}
	dirs := make([]string, 0, len(d.dirty))
	for dir := range d.dirty {
		dirs = append(dirs, dir)
	}
	clear(d.dirty)
	d.mu.Unlock()
	// Many at a time: each is a small write and a wait for the disk, and
	// the disk serves them together (the first sync of the benchmark share,
	// ~210 directories: 160-250 ms four at a time, 30-50 ms at 32).
	errs := make(chan error, len(dirs))
	sem := make(chan struct{}, 32)
	for _, dir := range dirs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- syncDir(dir)
		}()
	}
	var first error
	for range dirs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		// Try these again next time rather than forget them.
		d.mu.Lock()
		for _, dir := range dirs {
			d.dirty[dir] = true
		}
		d.mu.Unlock()
		return fmt.Errorf("blob store: sync: %w", first)
	}
	return ctx.Err()
}

// Close waits for the blobs still pending and makes them durable (a
// Flush): no background work outlives the store.
func (d *Disk) Close() error { return d.Flush(context.Background()) }

// settlePending settles the blobs queued now and waits until every blob
// pending now has settled; blobs put meanwhile are not waited for.
func (d *Disk) settlePending() {
	d.mu.Lock()
	group := d.takeQueueLocked()
	ids := make([]ID, 0, len(d.pending))
	for id := range d.pending {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	// Each of ids is in group or in a group a syncer has taken already.
	d.settleGroup(group)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		for {
			if _, ok := d.pending[id]; !ok {
				break
			}
			d.settled.Wait()
		}
	}
}

func (d *Disk) pendingPath(id ID) (pendingBlob, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.pending[id]
	return p, ok
}

// mkdir makes a blob directory (and its parents) once per process; a
// directory it creates marks its parent as changed.
func (d *Disk) mkdir(dir string) error {
	d.mu.Lock()
	done := d.dirs[dir]
	d.mu.Unlock()
	if done {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != filepath.Join(d.root, "blobs") {
		if err := d.mkdir(parent); err != nil {
			return err
		}
	}
	err := os.Mkdir(dir, 0o750)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("blob store: %w", err)
	}
	d.mu.Lock()
	if err == nil {
		d.dirty[parent] = true
	}
	d.dirs[dir] = true
	d.mu.Unlock()
	return nil
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
	if p, ok := d.pendingPath(id); ok {
		f, err := os.Open(p.tmp)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		// Moved into place meanwhile.
	}
	f, err := os.Open(d.path(id))
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
	pend := make(map[ID]int64, len(d.pending))
	for id, p := range d.pending {
		pend[id] = p.size
	}
	d.mu.Unlock()
	for id, size := range pend {
		if err := fn(Info{ID: id, Size: size}); err != nil {
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
		if _, seen := pend[id]; seen {
			return nil // settled during the walk
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
	d.settlePending() // a pending blob is removed once in place
	err := os.Remove(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return err
}

// Quarantine moves a blob whose bytes are wrong out of the store, into
// damaged/ beside blobs/, where a person can still look at them. The store
// then lacks the blob, so the next Put of that content stores it whole.
// It returns where the bytes went.
func (d *Disk) Quarantine(ctx context.Context, id ID) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	d.settlePending()
	dir := filepath.Join(d.root, "damaged")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("blob store: quarantine %s: %w", id.Short(), err)
	}
	dst := filepath.Join(dir, id.String())
	err := os.Rename(d.path(id), dst)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("blob store: quarantine %s: %w", id.Short(), err)
	}
	if err := syncDir(filepath.Dir(d.path(id))); err != nil {
		return "", fmt.Errorf("blob store: quarantine %s: %w", id.Short(), err)
	}
	return dst, syncDir(dir)
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
