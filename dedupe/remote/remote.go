// Package remote is a dedupe.BlobStore over any rclone remote (S3, Azure
// Blob, GCS, SFTP, SMB...): blobs are written once under their content key,
// <root>/ab/cd/<64 hex>, and verified on read.
//
// Put spools the content to a local temporary file while hashing it
// (memory does not depend on the blob's size), asks the remote for the key
// (one HEAD or stat, never a listing) and uploads only what is missing,
// with its size known. On remotes where an upload in progress is visible
// under its name (sftp, smb, local), the upload goes to tmp/ on the remote
// and is moved into place once whole.
package remote

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/fserrors"
	rhash "github.com/rclone/rclone/fs/hash"
	"github.com/rclone/rclone/fs/object"
	"github.com/rclone/rclone/fs/walk"
	"github.com/syncd/syncd/dedupe"
)

// Prefixes on the remote beside the blobs' ab/ directories.
const (
	tmpPrefix     = "tmp"     // uploads in progress (remotes with partial uploads)
	damagedPrefix = "damaged" // blobs verify found damaged
)

// Store is a BlobStore on an rclone remote.
type Store struct {
	f      fs.Fs
	spool  string // local directory for the temporary files of Put
	staged bool   // uploads go to tmp/ and are moved into place
	md5    bool   // uploads carry their MD5, which the remote checks

	mu       sync.Mutex
	inflight map[dedupe.ID]*keyLock // Puts of one content, one at a time
}

type keyLock struct {
	sync.Mutex
	users int
}

var _ dedupe.BlobStore = (*Store)(nil)

// New returns a store over f (the remote's root is the store's root),
// spooling Puts in the local directory spool (created by the first Put).
func New(f fs.Fs, spool string) (*Store, error) {
	ft := f.Features()
	return &Store{f: f, spool: spool, staged: ft.PartialUploads && ft.Move != nil,
		// Object stores check an upload against its MD5 (S3:
		// Content-MD5). Asking a file remote (sftp) which hashes it has
		// runs commands on the server, for nothing an upload uses.
		md5:      ft.BucketBased && f.Hashes().Contains(rhash.MD5),
		inflight: map[dedupe.ID]*keyLock{}}, nil
}

// String names the remote (as rclone renders it: no secrets).
func (s *Store) String() string { return fs.ConfigString(s.f) }

// Key is where a blob lives, relative to the store's root.
func Key(id dedupe.ID) string {
	h := id.String()
	return h[:2] + "/" + h[2:4] + "/" + h
}

func (s *Store) lock(id dedupe.ID) func() {
	s.mu.Lock()
	l := s.inflight[id]
	if l == nil {
		l = &keyLock{}
		s.inflight[id] = l
	}
	l.users++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		if l.users--; l.users == 0 {
			delete(s.inflight, id)
		}
		s.mu.Unlock()
	}
}

// Put implements dedupe.BlobStore.
func (s *Store) Put(ctx context.Context, r io.Reader) (dedupe.Sums, error) {
	if err := ctx.Err(); err != nil {
		return dedupe.Sums{}, err
	}
	tmp, err := os.CreateTemp(s.spool, "put-*")
	if errors.Is(err, iofs.ErrNotExist) {
		if err = os.MkdirAll(s.spool, 0o750); err == nil {
			tmp, err = os.CreateTemp(s.spool, "put-*")
		}
	}
	if err != nil {
		return dedupe.Sums{}, fmt.Errorf("blob store: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := dedupe.NewHasher()
	var md hash.Hash
	w := io.MultiWriter(tmp, h)
	if s.md5 {
		md = md5.New() // lets the remote check the upload (S3: Content-MD5)
		w = io.MultiWriter(tmp, h, md)
	}
	if _, err := io.Copy(w, dedupe.ContextReader(ctx, r)); err != nil {
		return dedupe.Sums{}, fmt.Errorf("blob store: spool: %w", err)
	}
	sums := h.Sums()
	unlock := s.lock(sums.ID)
	defer unlock()
	key := Key(sums.ID)
	o, err := s.f.NewObject(ctx, key)
	switch {
	case err == nil && o.Size() == sums.Size:
		return sums, nil // stored already
	case err == nil:
		// A wrong size is damage: replace it with the whole content.
	case !notFound(err):
		return dedupe.Sums{}, fmt.Errorf("blob %s: %w", sums.ID.Short(), err)
	}
	var hashes map[rhash.Type]string
	if md != nil {
		hashes = map[rhash.Type]string{rhash.MD5: hex.EncodeToString(md.Sum(nil))}
	}
	// rclone does not retry an upload it cannot rewind; this one can be
	// (the spool file), and object stores answer a share of writes with
	// a 500 or 503 that asks for a retry.
	for attempt := 1; ; attempt++ {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return dedupe.Sums{}, fmt.Errorf("blob store: %w", err)
		}
		err := s.upload(ctx, key, dedupe.ContextReader(ctx, tmp), sums.Size, hashes)
		if err == nil {
			return sums, nil
		}
		if attempt == uploadAttempts || ctx.Err() != nil || fserrors.IsFatalError(err) || fserrors.IsNoRetryError(err) {
			return dedupe.Sums{}, fmt.Errorf("blob %s: upload: %w", sums.ID.Short(), err)
		}
		fs.Debugf(s.f, "blob %s: upload attempt %d failed, retrying: %v", sums.ID.Short(), attempt, err)
		select {
		case <-ctx.Done():
			return dedupe.Sums{}, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
		}
	}
}

// uploadAttempts bounds the tries of one upload.
const uploadAttempts = 3

// upload writes key whole, or not at all.
func (s *Store) upload(ctx context.Context, key string, r io.Reader, size int64, hashes map[rhash.Type]string) error {
	dst := key
	if s.staged {
		dst = path.Join(tmpPrefix, path.Base(key)+"-"+randomSuffix()+".partial")
	}
	info := object.NewStaticObjectInfo(dst, time.Now(), size, true, hashes, s.f)
	o, err := s.f.Put(ctx, r, info)
	if err != nil {
		if o != nil {
			_ = o.Remove(context.WithoutCancel(ctx))
		}
		return err
	}
	if o.Size() != size {
		_ = o.Remove(context.WithoutCancel(ctx))
		return fmt.Errorf("remote stored %d bytes, want %d", o.Size(), size)
	}
	if !s.staged {
		return nil
	}
	if _, err := s.f.Features().Move(ctx, o, key); err != nil {
		_ = o.Remove(context.WithoutCancel(ctx))
		// Another process may have moved the same content into place.
		if got, serr := s.f.NewObject(ctx, key); serr == nil && got.Size() == size {
			return nil
		}
		return err
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func notFound(err error) bool {
	return errors.Is(err, fs.ErrorObjectNotFound) || errors.Is(err, fs.ErrorNotAFile) ||
		errors.Is(err, fs.ErrorIsDir) || errors.Is(err, fs.ErrorDirNotFound)
}

func (s *Store) object(ctx context.Context, id dedupe.ID) (fs.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := s.f.NewObject(ctx, Key(id))
	if notFound(err) {
		return nil, fmt.Errorf("%w: %s", dedupe.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id.Short(), err)
	}
	return o, nil
}

// Has implements dedupe.BlobStore.
func (s *Store) Has(ctx context.Context, id dedupe.ID) (bool, error) {
	_, err := s.object(ctx, id)
	if errors.Is(err, dedupe.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Stat implements dedupe.BlobStore.
func (s *Store) Stat(ctx context.Context, id dedupe.ID) (dedupe.Info, error) {
	o, err := s.object(ctx, id)
	if err != nil {
		return dedupe.Info{}, err
	}
	return dedupe.Info{ID: id, Size: o.Size()}, nil
}

// Open implements dedupe.BlobStore. The reader hashes what it returns and
// fails at the end (dedupe.ErrCorrupt) when the bytes are not the blob's.
func (s *Store) Open(ctx context.Context, id dedupe.ID) (io.ReadCloser, error) {
	o, err := s.object(ctx, id)
	if err != nil {
		return nil, err
	}
	rc, err := o.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id.Short(), err)
	}
	return dedupe.NewVerifier(ctx, rc, id), nil
}

// Walk implements dedupe.BlobStore. It lists the remote: it is for verify
// and gc, not for the hot path.
func (s *Store) Walk(ctx context.Context, fn func(dedupe.Info) error) error {
	err := walk.ListR(ctx, s.f, "", true, 3, walk.ListObjects, func(entries fs.DirEntries) error {
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			o, ok := e.(fs.Object)
			if !ok {
				continue
			}
			id, err := dedupe.ParseID(path.Base(o.Remote()))
			if err != nil || o.Remote() != Key(id) {
				continue // not ours (tmp/, damaged/, anything else)
			}
			if err := fn(dedupe.Info{ID: id, Size: o.Size()}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrorDirNotFound) {
		return nil // nothing stored yet
	}
	return err
}

// Remove implements dedupe.BlobStore.
func (s *Store) Remove(ctx context.Context, id dedupe.ID) error {
	o, err := s.object(ctx, id)
	if err != nil {
		return err
	}
	if err := o.Remove(ctx); err != nil {
		return fmt.Errorf("blob %s: remove: %w", id.Short(), err)
	}
	return nil
}

// Quarantine moves a damaged blob to damaged/<hex> on the remote (a
// server-side move where the remote has one, else a copy and a delete), so
// the next Put of that content stores it whole. It returns where the bytes
// went.
func (s *Store) Quarantine(ctx context.Context, id dedupe.ID) (string, error) {
	o, err := s.object(ctx, id)
	if err != nil {
		return "", err
	}
	dst := path.Join(damagedPrefix, id.String())
	ft := s.f.Features()
	switch {
	case ft.Move != nil:
		_, err = ft.Move(ctx, o, dst)
	case ft.Copy != nil:
		if _, err = ft.Copy(ctx, o, dst); err == nil {
			err = o.Remove(ctx)
		}
	default:
		// No server-side move: the damaged bytes are not worth a download
		// and upload; drop them.
		err = o.Remove(ctx)
		dst = ""
	}
	if err != nil {
		return "", fmt.Errorf("blob store: quarantine %s: %w", id.Short(), err)
	}
	if dst == "" {
		return "(removed: the remote cannot move objects)", nil
	}
	return fs.ConfigString(s.f) + "/" + dst, nil
}

// CleanTemp removes spool files and staged uploads older than minAge, left
// by interrupted runs (younger ones may belong to a run in progress).
func (s *Store) CleanTemp(ctx context.Context, minAge time.Duration) (int, error) {
	n := 0
	ents, err := os.ReadDir(s.spool)
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return 0, err
	}
	for _, e := range ents {
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < minAge {
			continue
		}
		if os.Remove(filepath.Join(s.spool, e.Name())) == nil {
			n++
		}
	}
	if !s.staged {
		return n, nil
	}
	entries, err := s.f.List(ctx, tmpPrefix)
	if notFound(err) {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	for _, e := range entries {
		o, ok := e.(fs.Object)
		if !ok || time.Since(o.ModTime(ctx)) < minAge {
			continue
		}
		if o.Remove(ctx) == nil {
			n++
		}
	}
	return n, nil
}
