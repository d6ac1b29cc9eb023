package sharetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/rclone/rclone/backend/local" // the served directory
	_ "github.com/rclone/rclone/cmd/serve/s3"  // registers the "s3" serve type
	"github.com/rclone/rclone/fs"
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
	s, stop, err := StartS3In(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop rclone serve s3: %v", err)
		}
	})
	return s
}

// StartS3In starts the server over dir with one generated access key
// (for benchmarks; tests use StartS3). stop stops it.
func StartS3In(dir string) (s *S3, stop func() error, err error) {
	id1, err := randomKey()
	if err != nil {
		return nil, nil, err
	}
	id2, err := randomKey()
	if err != nil {
		return nil, nil, err
	}
	s = &S3{KeyID: id1, Secret: id2, Dir: dir}
	// The server logs that it started from its own goroutine, through
	// rclone's process-wide logger, maybe after serve/start returns:
	// wait for that line, so a later fs.SetLogger (every syncd command
	// sets it) does not race with it.
	started := &startedSignal{Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}), ch: make(chan struct{})}
	fs.SetLogger(started)
	startCall := rc.Calls.Get("serve/start")
	stopCall := rc.Calls.Get("serve/stop")
	if startCall == nil || stopCall == nil {
		return nil, nil, errors.New("rclone serve rc calls not registered")
	}
	out, err := startCall.Fn(context.Background(), rc.Params{
		"type":             "s3",
		"fs":               s.Dir,
		"addr":             "127.0.0.1:0",
		"auth_key":         []string{s.KeyID + "," + s.Secret},
		"force_path_style": true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start rclone serve s3: %w", err)
	}
	id, _ := out.GetString("id")
	addr, _ := out.GetString("addr")
	s.Endpoint = "http://" + addr
	stop = func() error {
		_, err := stopCall.Fn(context.Background(), rc.Params{"id": id})
		return err
	}
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-started.ch:
	case <-timer.C:
		stop()
		return nil, nil, fmt.Errorf("rclone serve s3 did not log that it started within %s", startTimeout)
	}
	return s, stop, nil
}

// startedSignal passes records on to Handler (those it enables) and
// closes ch when the S3 server says it started.
type startedSignal struct {
	slog.Handler
	once sync.Once
	ch   chan struct{}
}

func (h *startedSignal) Enabled(context.Context, slog.Level) bool { return true }

func (h *startedSignal) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "Starting s3 server") {
		h.once.Do(func() { close(h.ch) })
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}
