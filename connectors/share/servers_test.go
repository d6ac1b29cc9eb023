package share_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/share/sharetest"
)

// serverTree is the tree served by every backend in these tests.
var serverTree = map[string]string{
	"Finance/Q3 Report v1.xlsx":         "quarter three, first cut",
	"Finance/Archive/Q3 Report v1.xlsx": "quarter three, first cut",
	"Finance/Copy of Q3 Report.xlsx":    "quarter three, copy",
	"Finance/~$Q3 Report v1.xlsx":       "lock",
	"HR/Policies/leave policy.docx":     strings.Repeat("leave policy ", 3000),
	"HR/handbook.pdf":                   strings.Repeat("\x00\x01binary", 500),
	"Projects/Alpha/notes café.txt":     "unicode name",
	"readme.txt":                        "department share",
}

func sambaYAML(t testing.TB, srv *sharetest.Samba, sub string) string {
	env := "SHARETEST_SMB_PASSWORD"
	t.Setenv(env, srv.Password)
	return fmt.Sprintf("name: smbdocs\ntype: share\nremote: %q\npassword_env: %s\n", srv.Remote(sub), env)
}

// sftpYAML sets shell_type, which saves rclone's shell detection (a
// remote command, slow where root's .bashrc is slow).
func sftpYAML(srv *sharetest.SFTP, dir string) string {
	return sftpYAMLWith(srv, dir, "shell_type: unix")
}

func sftpYAMLWith(srv *sharetest.SFTP, dir, options string) string {
	return fmt.Sprintf("name: sftpdocs\ntype: share\nremote: %q\nkey_file: %q\noptions: {%s}\n", srv.Remote(dir), srv.KeyFile, options)
}

func startSamba(t *testing.T, files map[string]string) (*sharetest.Samba, string) {
	dir := sharetest.ShareDir(t)
	sharetest.WriteTree(t, dir, files)
	return sharetest.StartSamba(t, dir), dir
}

func TestSambaConformance(t *testing.T) {
	srv, dir := startSamba(t, serverTree)
	yaml := sambaYAML(t, srv, "") + "checkpoint_every: 2\n"
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Source { return newSource(t, yaml) },
		Mutate: func(t *testing.T) []string {
			sharetest.WriteTree(t, dir, map[string]string{"readme.txt": "department share, edited", "HR/new hire.docx": "welcome"})
			return []string{"readme.txt", "new hire.docx"}
		},
		// smbd reads files as nobody, so a folder without permissions
		// is unreadable even when the test runs as root.
		Break: func(t *testing.T) connectortest.Broken {
			hr := filepath.Join(dir, "HR")
			if err := os.Chmod(hr, 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(hr, 0o755) })
			return connectortest.Broken{Ref: "HR/", Mentions: "HR/"}
		},
	})
}

// SFTP and WebDAV have no Break: their servers read the tree as the user
// running the test, who may be root.

func TestSFTPConformance(t *testing.T) {
	srv := sharetest.StartSFTP(t)
	dir := t.TempDir()
	sharetest.WriteTree(t, dir, serverTree)
	yaml := sftpYAML(srv, dir) + "checkpoint_every: 2\n"
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Source { return newSource(t, yaml) },
		Mutate: func(t *testing.T) []string {
			sharetest.WriteTree(t, dir, map[string]string{"readme.txt": "department share, edited", "HR/new hire.docx": "welcome"})
			return []string{"readme.txt", "new hire.docx"}
		},
	})
}

// ingest scans from cur like the engine: it reads every content item it
// is told about and returns "ref sha256" lines, sorted, and the cursor.
func ingest(t *testing.T, s connectors.Source, cur connectors.Cursor) ([]string, connectors.Cursor) {
	t.Helper()
	var got []string
	rec := &connectortest.Recorder{OnItem: func(ctx context.Context, it *connectors.Item) error {
		if it.Skip != "" {
			return nil
		}
		rc, err := s.Open(ctx, it)
		if err != nil {
			return err
		}
		defer rc.Close()
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			return err
		}
		got = append(got, string(it.Ref)+" "+hex.EncodeToString(h.Sum(nil)))
		return nil
	}}
	next, err := s.Scan(context.Background(), cur, rec)
	if err != nil {
		t.Fatalf("%s: scan: %v", s.Name(), err)
	}
	if len(rec.Problems) > 0 {
		t.Errorf("%s: problems: %v", s.Name(), rec.Problems)
	}
	sort.Strings(got)
	return got, next
}

func TestSambaRescanReadsOnlyChangedFile(t *testing.T) {
	files := map[string]string{}
	for i := range 30 {
		files[fmt.Sprintf("Dept%d/file %02d.txt", i%3, i)] = fmt.Sprintf("content %d", i)
	}
	srv, dir := startSamba(t, files)
	yaml := sambaYAML(t, srv, "")
	first := newSource(t, yaml)
	got, cur := ingest(t, first, nil)
	if len(got) != 30 || first.Counters().Opened != 30 {
		t.Fatalf("first run read %d files (opened=%d), want 30", len(got), first.Counters().Opened)
	}
	sharetest.WriteTree(t, dir, map[string]string{"Dept1/file 04.txt": "content 4, edited"})
	second := newSource(t, yaml)
	got, _ = ingest(t, second, cur)
	c := second.Counters()
	if len(got) != 1 || !strings.HasPrefix(got[0], "Dept1/file 04.txt ") || c.Opened != 1 {
		t.Errorf("second run read %v (opened=%d), want only Dept1/file 04.txt", got, c.Opened)
	}
	if c.Listed != 30 || c.Unchanged != 29 {
		t.Errorf("second run counters %+v: want listed=30 unchanged=29", c)
	}
	if c.ReceivedBytes != int64(len("content 4, edited")) {
		t.Errorf("second run read %d bytes, want %d", c.ReceivedBytes, len("content 4, edited"))
	}
}

func TestSameTreeAcrossBackends(t *testing.T) {
	dir := sharetest.ShareDir(t)
	sharetest.WriteTree(t, dir, serverTree)
	smb := sharetest.StartSamba(t, dir)
	sftp := sharetest.StartSFTP(t)
	local, _ := ingest(t, newSource(t, localYAML(dir)), nil)
	viaSMB, _ := ingest(t, newSource(t, sambaYAML(t, smb, "")), nil)
	viaSFTP, _ := ingest(t, newSource(t, sftpYAML(sftp, dir)), nil)
	if len(local) != len(serverTree)-1 { // less the lock file
		t.Fatalf("local read %d items, want %d: %v", len(local), len(serverTree)-1, local)
	}
	for name, got := range map[string][]string{"smb": viaSMB, "sftp": viaSFTP} {
		if strings.Join(got, "\n") != strings.Join(local, "\n") {
			t.Errorf("%s gave\n%s\nlocal gave\n%s", name, strings.Join(got, "\n"), strings.Join(local, "\n"))
		}
	}
}

func TestSambaPermissionDenied(t *testing.T) {
	srv, dir := startSamba(t, map[string]string{
		"open.txt": "readable", "locked.txt": "no access", "Secret/plans.txt": "hidden", "Other/ok.txt": "fine",
	})
	for p, mode := range map[string]os.FileMode{"locked.txt": 0o000, "Secret": 0o000} {
		if err := os.Chmod(filepath.Join(dir, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	s := newSource(t, sambaYAML(t, srv, ""))
	rec, _ := connectortest.Scan(t, s, nil)
	if refs := summaryRefs(rec.Items); refs != "Other/ok.txt,locked.txt,open.txt" {
		t.Errorf("listed %s", refs)
	}
	if len(rec.Problems) != 1 || !errors.Is(rec.Problems[0].Err, connectors.ErrPermission) ||
		!strings.Contains(rec.Problems[0].Error(), "Secret") {
		t.Errorf("problems %v: want one permission problem naming Secret", rec.Problems)
	}
	for _, it := range rec.Items {
		rc, err := s.Open(context.Background(), it)
		if it.Name != "locked.txt" {
			if err != nil {
				t.Errorf("open %s: %v", it.Ref, err)
			} else {
				rc.Close()
			}
			continue
		}
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if !errors.Is(err, connectors.ErrPermission) || !strings.Contains(err.Error(), "locked.txt") {
			t.Errorf("reading an unreadable file: %v, want ErrPermission naming locked.txt", err)
		}
	}
}

func TestServerDropIsRetryable(t *testing.T) {
	dir := sharetest.ShareDir(t)
	sharetest.WriteTree(t, dir, serverTree)
	smb := sharetest.StartSamba(t, dir)
	sftp := sharetest.StartSFTP(t)
	for name, c := range map[string]struct {
		yaml string
		stop func()
	}{"smb": {sambaYAML(t, smb, ""), smb.Stop}, "sftp": {sftpYAML(sftp, dir), sftp.Stop}} {
		t.Run(name, func(t *testing.T) {
			s := newSource(t, c.yaml)
			rec, cur := connectortest.Scan(t, s, nil)
			c.stop()
			_, err := s.Open(context.Background(), rec.Content()[0])
			if !connectors.IsRetryable(err) {
				t.Errorf("open after the server went away: %v, want a Retryable error", err)
			}
			_, err = newSource(t, c.yaml).Scan(context.Background(), cur, &connectortest.Recorder{})
			if !connectors.IsRetryable(err) {
				t.Errorf("scan with the server down: %v, want a Retryable error", err)
			}
		})
	}
}

// An RCLONE_SMB_PORT in the environment would make rclone's own NewFs
// reach the server; the source must ignore it and use the configured
// (default) port.
func TestSambaIgnoresRcloneEnv(t *testing.T) {
	srv, _ := startSamba(t, serverTree)
	t.Setenv("RCLONE_SMB_PORT", fmt.Sprint(srv.Port))
	t.Setenv("RCLONE_CONFIG_DOCS_TYPE", "smb")
	yaml := strings.Replace(sambaYAML(t, srv, ""), fmt.Sprintf(",port=%d", srv.Port), "", 1)
	_, err := newSource(t, yaml).Scan(context.Background(), nil, &connectortest.Recorder{})
	if err == nil {
		t.Fatal("scan used RCLONE_SMB_PORT from the environment")
	}
	if strings.Contains(err.Error(), srv.Password) {
		t.Errorf("error contains the password: %v", err)
	}
	_, err = connectors.New(connectortest.Config(t, "name: x\ntype: share\nremote: 'docs:Share'\n"))
	if err == nil {
		t.Error("a remote named only by RCLONE_CONFIG_DOCS_TYPE was accepted")
	}
}

// With remote_hashes: always, SFTP items carry the server's sha256, so a moved file's known content needs no download.
func TestSFTPRemoteHashes(t *testing.T) {
	srv := sharetest.StartSFTP(t)
	dir := t.TempDir()
	tree := map[string]string{"readme.txt": "department share", "HR/a.docx": "a", "Finance/b.xlsx": "b"}
	sharetest.WriteTree(t, dir, tree)
	// The hash command is named: rclone's probe of the default commands
	// (a "sha256sum" of nothing, at first use) reports none on this test
	// machine although the same command over the same server works.
	yaml := sftpYAMLWith(srv, dir, "shell_type: unix, hashes: sha256, sha256sum_command: sha256sum") + "remote_hashes: always\n"
	rec, cur := connectortest.Scan(t, newSource(t, yaml), nil)
	for _, it := range rec.Content() {
		sum := sha256.Sum256([]byte(tree[string(it.Ref)]))
		if it.Hashes["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: hashes %v, want the content's sha256", it.Ref, it.Hashes)
		}
		if !strings.Contains(it.Fingerprint, it.Hashes["sha256"]) {
			t.Errorf("%s: fingerprint %q lacks the hash", it.Ref, it.Fingerprint)
		}
	}
	if err := os.Rename(filepath.Join(dir, "readme.txt"), filepath.Join(dir, "HR", "readme moved.txt")); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, yaml)
	rec, _ = connectortest.Scan(t, s, cur)
	want := sha256.Sum256([]byte(tree["readme.txt"]))
	if len(rec.Items) != 1 || rec.Items[0].Ref != "HR/readme moved.txt" || rec.Items[0].Hashes["sha256"] != hex.EncodeToString(want[:]) {
		t.Errorf("after a move: %s", summary(rec.Items))
	}
	if s.Counters().Opened != 0 {
		t.Error("scan opened files")
	}
}

func TestWebDAVConformance(t *testing.T) {
	dir := t.TempDir()
	sharetest.WriteTree(t, dir, serverTree)
	srv := sharetest.StartWebDAV(t, dir)
	t.Setenv("SHARETEST_DAV_PASSWORD", srv.Password)
	yaml := fmt.Sprintf("name: dav\ntype: share\nremote: %q\npassword_env: SHARETEST_DAV_PASSWORD\n", srv.Remote())
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Source { return newSource(t, yaml+"checkpoint_every: 2\n") },
		Mutate: func(t *testing.T) []string {
			sharetest.WriteTree(t, dir, map[string]string{"readme.txt": "department share, edited", "HR/new hire.docx": "welcome"})
			return []string{"readme.txt", "new hire.docx"}
		},
	})
	local, _ := ingest(t, newSource(t, localYAML(dir)), nil)
	dav, _ := ingest(t, newSource(t, yaml), nil)
	if strings.Join(dav, "\n") != strings.Join(local, "\n") {
		t.Errorf("webdav gave\n%s\nlocal gave\n%s", strings.Join(dav, "\n"), strings.Join(local, "\n"))
	}
	srv.Stop()
	_, err := newSource(t, yaml).Scan(context.Background(), nil, &connectortest.Recorder{})
	if !connectors.IsRetryable(err) {
		t.Errorf("scan with the server down: %v, want Retryable", err)
	}
}

// Noise on a share: macOS, Windows and Word leftovers are skipped with
// their reason; the documents beside them, and a picture somebody saved
// as image001.png, are documents.
func TestSambaNoise(t *testing.T) {
	srv, _ := startSamba(t, map[string]string{
		"Team/Budget.xlsx": "budget", "Team/._Budget.xlsx": "apple", "Team/~WRL0001.tmp": "word",
		"Team/Thumbs.db": "thumbs", "Team/.DS_Store": "mac", "Team/image001.png": "a picture",
	})
	rec, _ := connectortest.Scan(t, newSource(t, sambaYAML(t, srv, "")), nil)
	got := map[string]string{}
	for _, it := range rec.Items {
		got[it.Name] = it.Skip
	}
	want := map[string]string{"Budget.xlsx": "", "image001.png": "", "._Budget.xlsx": connectors.SkipAppleDouble,
		"~WRL0001.tmp": connectors.SkipTemporary, "Thumbs.db": connectors.SkipSystemFile, ".DS_Store": connectors.SkipSystemFile}
	if len(got) != len(want) {
		t.Errorf("items %v, want %v", got, want)
	}
	for name, skip := range want {
		if g, ok := got[name]; !ok || g != skip {
			t.Errorf("%s: skip %q (listed %v), want %q", name, g, ok, skip)
		}
	}
}
