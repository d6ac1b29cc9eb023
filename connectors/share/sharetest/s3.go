package sharetest

import (
	"context"
	"testing"

	_ "github.com/rclone/rclone/backend/local" // the served directory
	_ "github.com/rclone/rclone/cmd/serve/s3"  // registers the "s3" serve type
	"github.com/rclone/rclone/fs/rc"
)

// S3 is rclone's own S3 server (gofakes3 over a local directory), running
// in this process on a loopback port. Buckets are the directory's
// subdirectories.
type S3 struct {
	Endpoint string // http://127.0.0.1:port
	KeyID    string
	Secret   string
	Dir      string // the served directory: <Dir>/<bucket>/<key>
}

// StartS3 starts the server over a new temporary directory with one
// generated access key; it stops when the test ends.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	s := &S3{KeyID: randomHex(t), Secret: randomHex(t), Dir: t.TempDir()}
	start := rc.Calls.Get("serve/start")
	stop := rc.Calls.Get("serve/stop")
	if start == nil || stop == nil {
		t.Fatal("rclone serve rc calls not registered")
	}
	out, err := start.Fn(context.Background(), rc.Params{
		"type":             "s3",
		"fs":               s.Dir,
		"addr":             "127.0.0.1:0",
		"auth_key":         []string{s.KeyID + "," + s.Secret},
		"force_path_style": true,
	})
	if err != nil {
		t.Fatalf("start rclone serve s3: %v", err)
	}
	id, _ := out.GetString("id")
	addr, _ := out.GetString("addr")
	s.Endpoint = "http://" + addr
	t.Cleanup(func() {
		if _, err := stop.Fn(context.Background(), rc.Params{"id": id}); err != nil {
			t.Errorf("stop rclone serve s3: %v", err)
		}
	})
	return s
}
