package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors/share/sharetest"
	"github.com/syncd/syncd/engine"
)

// A store whose blobs are on an S3 server (rclone's own, in this process):
// sync, export and verify work, the export equals the same run on a local
// store, and verify finds and moves aside an object damaged on the server.
func TestRemoteBlobsOnS3(t *testing.T) {
	srv := sharetest.StartS3(t)
	t.Setenv("SYNCD_TEST_S3_SECRET", srv.Secret)
	src := t.TempDir()
	sharetest.GenTree(t, src, 40, 2000)
	sharetest.WriteTree(t, src, map[string]string{"Board/minutes.txt": "agreed: move the archive", "Board/copy of minutes.txt": "agreed: move the archive"})

	remoteBlobs := "  blobs:\n    remote: \":s3:syncd/blobs\"\n" +
		"    options: {provider: Other, endpoint: \"" + srv.Endpoint + "\", access_key_id: " + srv.KeyID + ", force_path_style: \"true\"}\n" +
		"    password_env: SYNCD_TEST_S3_SECRET\n"
	syncExport := func(blobs string) (cfg, store string, tree map[string]string) {
		dir := t.TempDir()
		store = filepath.Join(dir, "store")
		cfg = filepath.Join(dir, "syncd.yaml")
		text := "store:\n  path: " + store + "\n" + blobs +
			"jobs:\n  - name: j\n    workspace: w\n    sources:\n      - {name: files, type: folder, path: " + src + "}\n"
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := run(t, "sync", "--config", cfg, "--log-level", "error"); code != exitOK {
			t.Fatalf("sync: exit %d\n%s", code, out)
		}
		// A plan after the sync finds everything stored (it asks the
		// blob store, read-only).
		if out, code := run(t, "plan", "--config", cfg, "--log-level", "error"); code != exitOK || planNew(out) != "0" {
			t.Fatalf("plan after sync: exit %d\n%s", code, out)
		}
		to := filepath.Join(dir, "export")
		if out, code := run(t, "export", "--config", cfg, "--format", "tree", "--to", to); code != exitOK {
			t.Fatalf("export: exit %d\n%s", code, out)
		}
		if out, code := run(t, "verify", "--config", cfg); code != exitOK || !strings.Contains(out, "store is consistent") {
			t.Fatalf("verify: exit %d\n%s", code, out)
		}
		return cfg, store, exportContents(t, to)
	}
	_, _, want := syncExport("")
	cfg, store, got := syncExport(remoteBlobs)
	if len(want) < 40 {
		t.Fatalf("the local export has %d files", len(want))
	}
	sameExport(t, got, want, "from S3 blobs", "from the local store")
	// The blobs went to the bucket, none to the local store.
	objects := 0
	filepath.WalkDir(filepath.Join(srv.Dir, "syncd", "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) == 64 {
			objects++
		}
		return nil
	})
	distinct := map[string]bool{}
	for _, sum := range storeDigest(t, src) {
		distinct[sum] = true
	}
	if objects != len(distinct) {
		t.Errorf("%d blob objects on the S3 server, want one per distinct content (%d)", objects, len(distinct))
	}
	if exists(filepath.Join(store, "blobs")) {
		t.Error("a store with remote blobs made a local blobs/ directory")
	}

	// Damage one object on the server: verify reports it and moves it to
	// damaged/ in the bucket.
	var victim string
	filepath.WalkDir(filepath.Join(srv.Dir, "syncd", "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) == 64 && victim == "" {
			victim = p
		}
		return nil
	})
	if err := os.WriteFile(victim, []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "verify", "--config", cfg)
	if code != exitProblems || !strings.Contains(out, "damaged blob "+filepath.Base(victim)) {
		t.Fatalf("verify of a damaged object: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "syncd", "blobs", "damaged", filepath.Base(victim))); err != nil {
		t.Fatalf("the damaged object was not moved to damaged/: %v\n%s", err, out)
	}
}

// exportContents maps each exported file (manifests: each entry's path) to
// its content's SHA-256, leaving out what differs between two runs of the
// same job (times).
func exportContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for rel, sum := range storeDigest(t, dir) {
		if filepath.Base(rel) != engine.ManifestName {
			out[rel] = sum
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		var mf []engine.ManifestEntry
		if err := json.Unmarshal(b, &mf); err != nil {
			t.Fatal(err)
		}
		for _, e := range mf {
			out[rel+":"+e.Path] = e.SHA256
		}
	}
	return out
}

// planNew is the "new" column of the files source's row in a plan's table.
func planNew(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[0] == "j" && f[1] == "files" {
			return f[4]
		}
	}
	return ""
}

// A blob store that is down (nothing listens at its endpoint): the sync
// ends with each item a problem kept on the retry list, instead of
// retrying each write for many minutes (rclone's defaults: 10 paced
// tries of a 10-attempt SDK call). Once the server is up, the next sync
// stores every item: nothing is lost.
func TestRemoteBlobsOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	srv := sharetest.StartS3(t)
	t.Setenv("SYNCD_TEST_S3_SECRET", srv.Secret)
	src := t.TempDir()
	files := map[string]string{"a.txt": "first", "b/c.txt": "second", "b/d.txt": "third"}
	sharetest.WriteTree(t, src, files)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syncd.yaml")
	write := func(endpoint string) {
		text := "store:\n  path: " + filepath.Join(dir, "store") + "\n" +
			"  blobs:\n    remote: \":s3:syncd/blobs\"\n" +
			"    options: {provider: Other, endpoint: \"" + endpoint + "\", access_key_id: " + srv.KeyID + ", force_path_style: \"true\"}\n" +
			"    password_env: SYNCD_TEST_S3_SECRET\n" +
			"jobs:\n  - name: j\n    workspace: w\n    sources:\n      - {name: files, type: folder, path: " + src + "}\n"
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(down)
	out, code := run(t, "sync", "--config", cfg, "--log-level", "error")
	if code != exitProblems {
		t.Fatalf("sync with the blob store down: exit %d, want %d (problems)\n%s", code, exitProblems, out)
	}
	// The items were read whole: the store is at fault, not they, and
	// the report says they are retried.
	out, code = run(t, "report", "--config", cfg, "--format", "csv")
	retried := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ",problem,") && strings.Contains(l, "retry-next-run: ") && strings.Contains(l, ": blob store: ") {
			retried++
		}
	}
	if code != exitOK || retried != len(files) || strings.Contains(out, "unreadable") {
		t.Fatalf("items.csv of the run with the store down: exit %d, want %d items to retry for the blob store\n%s", code, len(files), out)
	}
	write(srv.Endpoint)
	if out, code := run(t, "sync", "--config", cfg, "--log-level", "error"); code != exitOK {
		t.Fatalf("sync once the blob store is up: exit %d\n%s", code, out)
	}
	to := filepath.Join(dir, "export")
	if out, code := run(t, "export", "--config", cfg, "--format", "tree", "--to", to); code != exitOK {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	exported := map[string]bool{}
	for _, sum := range exportContents(t, to) {
		exported[sum] = true
	}
	want := storeDigest(t, src)
	if len(want) != len(files) {
		t.Fatalf("the source has %d files, want %d", len(want), len(files))
	}
	for rel, sum := range want {
		if !exported[sum] {
			t.Errorf("%s: its content is not in the export after the outage", rel)
		}
	}
}
