package share_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/share/sharetest"
	"github.com/syncd/syncd/dedupe"
)

// benchFiles is the tree size (SHARE_BENCH_FILES, default 1000 files of
// about 32 KB, a quarter of them duplicates).
func benchFiles() int {
	if n, err := strconv.Atoi(os.Getenv("SHARE_BENCH_FILES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// pull scans from cur and hands every content item's bytes to put.
func pull(tb testing.TB, s connectors.Source, cur connectors.Cursor, put func(io.Reader) error) (files int, next connectors.Cursor) {
	rec := &connectortest.Recorder{OnItem: func(ctx context.Context, it *connectors.Item) error {
		if it.Skip != "" {
			return nil
		}
		rc, err := s.Open(ctx, it)
		if err != nil {
			return err
		}
		defer rc.Close()
		files++
		return put(rc)
	}}
	next, err := s.Scan(context.Background(), cur, rec)
	if err != nil {
		tb.Fatal(err)
	}
	return files, next
}

func discard(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }

type benchBackend struct {
	name, yaml string
	cli        string // the same remote for the rclone command line
}

func benchBackends(b *testing.B, dir string) []benchBackend {
	smb := sharetest.StartSamba(b, dir)
	sftp := sharetest.StartSFTP(b)
	return []benchBackend{
		{"local", localYAML(dir), dir},
		{"smb", sambaYAML(b, smb, ""), smb.CLIRemote("")},
		{"sftp", sftpYAML(sftp, dir), strings.Replace(sftp.CLIRemote(dir), ":sftp,", ":sftp,shell_type=unix,", 1)},
	}
}

// BenchmarkScan: a full scan that reads every file, then a re-scan of the
// unchanged tree, which must open nothing.
//
//	go test -run XXX -bench Scan -benchtime 3x ./connectors/share/
func BenchmarkScan(b *testing.B) {
	dir := sharetest.ShareDir(b)
	n := benchFiles()
	total := sharetest.GenTree(b, dir, n, 32<<10)
	for _, be := range benchBackends(b, dir) {
		var cur connectors.Cursor
		b.Run(be.name+"/full", func(b *testing.B) {
			for b.Loop() {
				var files int
				files, cur = pull(b, newSource(b, be.yaml), nil, discard)
				if files != n {
					b.Fatalf("read %d files, want %d", files, n)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(n)/sec, "files/s")
			b.ReportMetric(float64(total)/1e6/sec, "MB/s")
		})
		b.Run(be.name+"/rescan", func(b *testing.B) {
			for b.Loop() {
				s := newSource(b, be.yaml)
				if files, _ := pull(b, s, cur, discard); files != 0 || s.Counters().Opened != 0 {
					b.Fatalf("rescan opened %d files, want 0", s.Counters().Opened)
				}
			}
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "files/s")
		})
	}
}

// BenchmarkIngestVsCopyThenJdupes measures, in the same run, syncd's
// ingest with dedupe (scan, stream each file into the content-addressed
// store) against what a person would do: `rclone copy` the share, then
// `jdupes -r` over the copy. The ingest is timed twice: into the disk
// store (which fsyncs every blob, as the engine does) and into the memory
// store (no fsync, like rclone copy). ratio = copy+jdupes time / ingest
// time.
//
//	SHARE_BENCH_FILES=300 go test -run XXX -bench IngestVsCopy -benchtime 2x ./connectors/share/
func BenchmarkIngestVsCopyThenJdupes(b *testing.B) {
	rcloneBin := sharetest.Require(b, "rclone")
	jdupes := sharetest.Require(b, "jdupes")
	dir := sharetest.ShareDir(b)
	sharetest.GenTree(b, dir, benchFiles(), 32<<10)
	for _, be := range benchBackends(b, dir) {
		b.Run(be.name, func(b *testing.B) {
			var disk, mem, copyDedupe time.Duration
			for b.Loop() {
				store, err := dedupe.OpenDisk(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				disk += timeIngest(b, be.yaml, store)
				mem += timeIngest(b, be.yaml, dedupe.NewMem())
				dst := filepath.Join(b.TempDir(), "copy")
				start := time.Now()
				// --ignore-checksum: syncd hashes as it streams; rclone's
				// post-copy check would cost sftp a remote md5sum per file.
				runCmd(b, rcloneBin, "copy", "--config", "/dev/null", "--log-level", "ERROR", "--ignore-checksum", be.cli, dst)
				runCmd(b, jdupes, "-r", "-q", dst)
				copyDedupe += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(disk.Seconds()/n, "ingest-disk-s/op")
			b.ReportMetric(mem.Seconds()/n, "ingest-mem-s/op")
			b.ReportMetric(copyDedupe.Seconds()/n, "copy+jdupes-s/op")
			b.ReportMetric(copyDedupe.Seconds()/disk.Seconds(), "ratio-disk")
			b.ReportMetric(copyDedupe.Seconds()/mem.Seconds(), "ratio-mem")
		})
	}
}

func timeIngest(b *testing.B, yaml string, store dedupe.BlobStore) time.Duration {
	start := time.Now()
	pull(b, newSource(b, yaml), nil, func(r io.Reader) error {
		_, err := store.Put(context.Background(), r)
		return err
	})
	if f, ok := store.(dedupe.Flusher); ok { // durable, as a sync leaves it
		if err := f.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func runCmd(tb testing.TB, argv ...string) {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%v: %v\n%s", argv, err, out)
	}
}
