package dedupe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Mem is an in-memory BlobStore for tests. It buffers content by nature.
type Mem struct {
	mu    sync.Mutex
	blobs map[ID][]byte
}

var _ BlobStore = (*Mem)(nil)

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{blobs: map[ID][]byte{}} }

// Put implements BlobStore.
func (m *Mem) Put(ctx context.Context, r io.Reader) (Sums, error) {
	var buf bytes.Buffer
	h := NewHasher()
	if _, err := io.Copy(io.MultiWriter(&buf, h), ctxReader{ctx, r}); err != nil {
		return Sums{}, err
	}
	s := h.Sums()
	m.mu.Lock()
	if _, ok := m.blobs[s.ID]; !ok {
		m.blobs[s.ID] = buf.Bytes()
	}
	m.mu.Unlock()
	return s, nil
}

// Has implements BlobStore.
func (m *Mem) Has(ctx context.Context, id ID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blobs[id]
	return ok, nil
}

// Stat implements BlobStore.
func (m *Mem) Stat(ctx context.Context, id ID) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return Info{ID: id, Size: int64(len(b))}, nil
}

// Open implements BlobStore.
func (m *Mem) Open(ctx context.Context, id ID) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Walk implements BlobStore.
func (m *Mem) Walk(ctx context.Context, fn func(Info) error) error {
	m.mu.Lock()
	infos := make([]Info, 0, len(m.blobs))
	for id, b := range m.blobs {
		infos = append(infos, Info{ID: id, Size: int64(len(b))})
	}
	m.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return bytes.Compare(infos[i].ID[:], infos[j].ID[:]) < 0 })
	for _, in := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements BlobStore.
func (m *Mem) Remove(ctx context.Context, id ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[id]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	delete(m.blobs, id)
	return nil
}

// HashOnly is the dry-run sink: Put hashes and discards; lookups go to the
// real store so a plan knows what is already there.
type HashOnly struct{ Real BlobStore }

var _ BlobStore = HashOnly{}

// Put implements BlobStore by hashing only.
func (h HashOnly) Put(ctx context.Context, r io.Reader) (Sums, error) {
	return HashReader(ctxReader{ctx, r})
}

// Has implements BlobStore.
func (h HashOnly) Has(ctx context.Context, id ID) (bool, error) { return h.Real.Has(ctx, id) }

// Stat implements BlobStore.
func (h HashOnly) Stat(ctx context.Context, id ID) (Info, error) { return h.Real.Stat(ctx, id) }

// Open implements BlobStore.
func (h HashOnly) Open(ctx context.Context, id ID) (io.ReadCloser, error) {
	return h.Real.Open(ctx, id)
}

// Walk implements BlobStore.
func (h HashOnly) Walk(ctx context.Context, fn func(Info) error) error { return h.Real.Walk(ctx, fn) }

// Remove is refused: a dry run changes nothing.
func (h HashOnly) Remove(ctx context.Context, id ID) error {
	return fmt.Errorf("blob store: remove %s: dry run", id.Short())
}
