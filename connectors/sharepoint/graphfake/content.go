package graphfake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/syncd/syncd/internal/splitmix"
)

// Content is the bytes of one file version. Implementations stream: the
// fake never holds a generated or on-disk version in memory.
type Content interface {
	Size() int64
	// Open returns a reader over the whole content; the caller closes it.
	Open() (ReadSeekCloser, error)
}

// ReadSeekCloser is what http.ServeContent needs, plus Close.
type ReadSeekCloser interface {
	io.ReadSeeker
	io.ReaderAt
	io.Closer
}

// Bytes is content held in memory (fixtures, tests).
func Bytes(b []byte) Content { return bytesContent(b) }

type bytesContent []byte

func (b bytesContent) Size() int64 { return int64(len(b)) }
func (b bytesContent) Open() (ReadSeekCloser, error) {
	return nopCloser{bytes.NewReader(b)}, nil
}

type readSeekerAt interface {
	io.ReadSeeker
	io.ReaderAt
}

type nopCloser struct{ readSeekerAt }

func (nopCloser) Close() error { return nil }

// File is content read from a file on disk each time it is served.
func File(path string) (Content, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("graphfake: content %s: %w", path, err)
	}
	return fileContent{path: path, size: st.Size()}, nil
}

type fileContent struct {
	path string
	size int64
}

func (f fileContent) Size() int64 { return f.size }
func (f fileContent) Open() (ReadSeekCloser, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("graphfake: content %s: %w", f.path, err)
	}
	return fh, nil
}

// Pattern is size bytes of deterministic pseudo-random content generated
// on the fly from seed, for very large files (a 1 GB version costs no
// memory).
func Pattern(seed uint64, size int64) Content { return patternContent{seed: seed, size: size} }

type patternContent struct {
	seed uint64
	size int64
}

func (p patternContent) Size() int64 { return p.size }
func (p patternContent) Open() (ReadSeekCloser, error) {
	return nopCloser{io.NewSectionReader(p, 0, p.size)}, nil
}

// ReadAt generates the bytes at off: each 8-byte block is splitmix64 of
// the seed and the block number.
func (p patternContent) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.size {
		return 0, io.EOF
	}
	n := 0
	var blk [8]byte
	for n < len(b) && off < p.size {
		bi := off / 8
		binary.LittleEndian.PutUint64(blk[:], splitmix.Mix((p.seed^uint64(bi)*splitmix.Gamma)+splitmix.Gamma))
		c := copy(b[n:], blk[off%8:])
		if rem := p.size - off; int64(c) > rem {
			c = int(rem)
		}
		n += c
		off += int64(c)
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}
