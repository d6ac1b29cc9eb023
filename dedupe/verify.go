package dedupe

import (
	"context"
	"fmt"
	"io"
)

// Verifier checks a blob's bytes against its id as they are read: the
// read that reaches the end fails with ErrCorrupt when they are not the
// blob's.
type Verifier struct {
	rc     io.ReadCloser
	ctx    context.Context
	id     ID
	h      *Hasher
	err    error // sticky: the end's verdict
	failed error // the last read error before the end
}

// NewVerifier reads blob id's bytes from rc, checking them.
func NewVerifier(ctx context.Context, rc io.ReadCloser, id ID) *Verifier {
	return &Verifier{rc: rc, ctx: ctx, id: id, h: NewHasher()}
}

func (v *Verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if err := v.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	switch {
	case err == io.EOF:
		if got := v.h.Sums().ID; got != v.id {
			v.err = fmt.Errorf("blob %s: %w (read %s)", v.id, ErrCorrupt, got.Short())
			return n, v.err
		}
		v.err = io.EOF
	case err != nil:
		err = fmt.Errorf("blob %s: %w", v.id.Short(), err)
		v.failed = err
	}
	return n, err
}

// Close closes the underlying reader.
func (v *Verifier) Close() error { return v.rc.Close() }

// Err is why reading failed: ErrCorrupt (wrapped) when the bytes were
// not the blob's, the read error otherwise; nil when nothing failed.
func (v *Verifier) Err() error {
	if v.err != nil && v.err != io.EOF {
		return v.err
	}
	return v.failed
}
