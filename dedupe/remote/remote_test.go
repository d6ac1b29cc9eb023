package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rclone/rclone/fs"

	"github.com/syncd/syncd/connectors/share"
	"github.com/syncd/syncd/connectors/share/sharetest"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/dedupe/remote"
	"github.com/syncd/syncd/dedupe/storetest"
)

var bucketSeq atomic.Int64

// s3Fs returns the rclone s3 backend on a new bucket of srv, built as
// syncd's config builds it (the secret key by reference).
func s3Fs(t *testing.T, srv *sharetest.S3) (fs.Fs, string) {
	t.Helper()
	bucket := fmt.Sprintf("blobs%d", bucketSeq.Add(1))
	t.Setenv("TEST_S3_SECRET", srv.Secret)
	f := newFs(t, share.Config{
		Remote:      ":s3:" + bucket + "/store",
		Options:     map[string]string{"provider": "Other", "endpoint": srv.Endpoint, "access_key_id": srv.KeyID, "force_path_style": "true"},
		PasswordEnv: "TEST_S3_SECRET",
	})
	return f, filepath.Join(srv.Dir, bucket, "store")
}

func newFs(t *testing.T, c share.Config) fs.Fs {
	t.Helper()
	f, err := share.NewFs(context.Background(), c)
	if err != nil {
		t.Fatalf("remote: %v", err)
	}
	return f
}

func newStore(t *testing.T, f fs.Fs) *remote.Store {
	t.Helper()
	s, err := remote.New(f, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	srv := sharetest.StartS3(t)
	storetest.Run(t, func(t *testing.T) dedupe.BlobStore {
		f, _ := s3Fs(t, srv)
		return newStore(t, f)
	})
}

func sftpFs(t *testing.T, srv *sharetest.SFTP) (fs.Fs, string) {
	t.Helper()
	dir := filepath.Join(sharetest.ShareDir(t), "store")
	f := newFs(t, share.Config{
		Remote:  ":sftp:" + dir,
		Options: map[string]string{"host": srv.Host, "port": fmt.Sprint(srv.Port), "user": srv.User, "known_hosts_file": srv.KnownHosts, "shell_type": "unix"},
		KeyFile: srv.KeyFile,
	})
	return f, dir
}

func TestSFTPConformance(t *testing.T) {
	srv := sharetest.StartSFTP(t)
	storetest.Run(t, func(t *testing.T) dedupe.BlobStore {
		f, _ := sftpFs(t, srv)
		return newStore(t, f)
	})
}

// TestSFTPUploadsAreStaged: on a remote where an upload in progress is
// visible, nothing but whole blobs is ever under a content key, and the
// staging area is left empty.
func TestSFTPUploadsAreStaged(t *testing.T) {
	srv := sharetest.StartSFTP(t)
	f, dir := sftpFs(t, srv)
	s := newStore(t, f)
	data := bytes.Repeat([]byte("staged "), 50000)
	sums, err := s.Put(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(remote.Key(sums.ID))))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob file: %d bytes, %v", len(got), err)
	}
	left, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil || len(left) != 0 {
		t.Fatalf("staging area after a put: %v %v", left, err)
	}
}

// TestS3CorruptObjectFailsRead: bytes changed on the server make the
// reader fail at the end, naming the blob.
func TestS3CorruptObjectFailsRead(t *testing.T) {
	srv := sharetest.StartS3(t)
	f, dir := s3Fs(t, srv)
	s := newStore(t, f)
	ctx := context.Background()
	data := bytes.Repeat([]byte("the original bytes "), 1000)
	sums, err := s.Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, filepath.FromSlash(remote.Key(sums.ID)))
	damaged := bytes.Clone(data)
	damaged[len(damaged)/2] ^= 0xff // same size: only the hash can tell
	if err := os.WriteFile(file, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, sums.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, dedupe.ErrCorrupt) || !strings.Contains(err.Error(), sums.ID.String()) {
		t.Fatalf("reading a damaged blob: err=%v, want ErrCorrupt naming %s", err, sums.ID)
	}
	// Quarantine moves it aside; the next Put stores it whole again.
	where, err := s.Quarantine(ctx, sums.ID)
	if err != nil || !strings.Contains(where, "damaged/"+sums.ID.String()) {
		t.Fatalf("quarantine: %q %v", where, err)
	}
	if ok, err := s.Has(ctx, sums.ID); ok || err != nil {
		t.Fatalf("has after quarantine: %v %v", ok, err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc2, err := s.Open(ctx, sums.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	if got, err := io.ReadAll(rc2); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after re-put: %d bytes, %v", len(got), err)
	}
}

// TestS3PutExistingDoesNotUpload: a second Put of stored content leaves
// the stored object alone (its bytes on the server are not rewritten).
func TestS3PutExistingDoesNotUpload(t *testing.T) {
	srv := sharetest.StartS3(t)
	f, dir := s3Fs(t, srv)
	ctx := context.Background()
	data := bytes.Repeat([]byte("write once "), 3000)
	sums, err := newStore(t, f).Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// Mark the stored object on the server: an upload would overwrite it.
	file := filepath.Join(dir, filepath.FromSlash(remote.Key(sums.ID)))
	marked := bytes.Clone(data)
	marked[0] ^= 0xff
	if err := os.WriteFile(file, marked, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := newStore(t, f).Put(ctx, bytes.NewReader(data))
	if err != nil || again.ID != sums.ID {
		t.Fatalf("second put: %+v %v", again, err)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, marked) {
		t.Fatal("a put of existing content uploaded it again")
	}
}

// flakyFs fails its first fails uploads after reading part of them, as an
// object store answering 500 does.
type flakyFs struct {
	fs.Fs
	fails atomic.Int32
}

func (f *flakyFs) Put(ctx context.Context, in io.Reader, src fs.ObjectInfo, options ...fs.OpenOption) (fs.Object, error) {
	if f.fails.Add(-1) >= 0 {
		io.CopyN(io.Discard, in, 10)
		return nil, errors.New("InternalError: 500")
	}
	return f.Fs.Put(ctx, in, src, options...)
}

// TestUploadRetried: an upload that fails is sent again whole from the
// spool, up to three tries.
func TestUploadRetried(t *testing.T) {
	srv := sharetest.StartS3(t)
	ctx := context.Background()
	for _, c := range []struct {
		fails int32
		ok    bool
	}{{0, true}, {2, true}, {3, false}} {
		f, _ := s3Fs(t, srv)
		flaky := &flakyFs{Fs: f}
		flaky.fails.Store(c.fails)
		s := newStore(t, flaky)
		data := bytes.Repeat([]byte(fmt.Sprintf("retry %d ", c.fails)), 500)
		sums, err := s.Put(ctx, bytes.NewReader(data))
		if c.ok != (err == nil) {
			t.Fatalf("%d failures: put err=%v, want ok=%v", c.fails, err, c.ok)
		}
		if !c.ok {
			if ok, _ := s.Has(ctx, dedupe.Sum(data)); ok {
				t.Fatalf("%d failures: the blob is stored after a failed put", c.fails)
			}
			continue
		}
		rc, err := s.Open(ctx, sums.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d failures: read back %d bytes, %v", c.fails, len(got), err)
		}
	}
}
