package dedupe

import (
	"context"
	"io"
	"sync"
)

// Info describes a stored blob.
type Info struct {
	ID   ID
	Size int64
}

// BlobStore is content-addressed, write-once storage.
//
// Contract (enforced by storetest):
//   - Put streams r into the store, hashing as it goes, and returns the
//     Sums of what it read. A blob becomes visible (Has, Stat, Open, Walk)
//     only once complete and durable. Putting content that is already stored
//     leaves one intact copy. Concurrent Puts of the same content are safe.
//   - Put never buffers the whole content in memory.
//   - Open returns exactly the bytes whose SHA-256 is id, or ErrNotFound.
//   - Walk visits every complete blob once, in no particular order.
//   - Remove deletes a blob; removing a missing blob returns ErrNotFound.
//   - Every method returns ctx.Err() promptly once ctx is cancelled.
type BlobStore interface {
	Put(ctx context.Context, r io.Reader) (Sums, error)
	Has(ctx context.Context, id ID) (bool, error)
	Stat(ctx context.Context, id ID) (Info, error)
	Open(ctx context.Context, id ID) (io.ReadCloser, error)
	Walk(ctx context.Context, fn func(Info) error) error
	Remove(ctx context.Context, id ID) error
}

// ContextReader makes a long copy from r notice ctx's cancellation
// between reads.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

// ctxReader makes a long copy notice cancellation between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// copyBufSize is the streaming buffer: large enough for throughput, small
// enough that memory does not depend on blob size.
const copyBufSize = 256 << 10

// copyBufs recycles the streaming buffers: one per Put would otherwise be
// most of a sync's garbage (a quarter of a megabyte per item).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
