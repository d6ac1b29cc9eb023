package share

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/config/obscure"
	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
)

func TestPasswordObscuredAndNotInRemote(t *testing.T) {
	t.Setenv("SHARE_TEST_PW", "s3cret-pw")
	s, err := New(connectortest.Config(t, `name: fin
type: share
remote: ":smb,host=files.example,user=svc,pass=inline-secret:Finance/2024"
password_env: SHARE_TEST_PW
`))
	if err != nil {
		t.Fatal(err)
	}
	src := s.(*Source)
	got, _ := src.target.config.Get("pass")
	if got == "s3cret-pw" || obscure.MustReveal(got) != "s3cret-pw" {
		t.Errorf("pass handed to rclone = %q: want the obscured password_env value", got)
	}
	if r := src.Remote(); r != ":smb,host=files.example,user=svc:Finance/2024" {
		t.Errorf("Remote() = %q: want host and user kept, pass removed", r)
	}
}

func TestS3SecretNotObscured(t *testing.T) {
	t.Setenv("SHARE_TEST_S3", "plain-secret")
	s, err := New(connectortest.Config(t, `name: b
type: share
remote: ":s3,provider=Minio,access_key_id=AKIA,endpoint='http://127.0.0.1:9':bucket/dir"
password_env: SHARE_TEST_S3
`))
	if err != nil {
		t.Fatal(err)
	}
	src := s.(*Source)
	if got, _ := src.target.config.Get("secret_access_key"); got != "plain-secret" {
		t.Errorf("secret_access_key = %q", got)
	}
	if r := src.Remote(); strings.Contains(r, "AKIA") || !strings.Contains(r, "endpoint='http://127.0.0.1:9'") {
		t.Errorf("Remote() = %q: want access key removed, endpoint kept", r)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]struct{ yaml, want string }{
		"unsupported backend": {"remote: ':drive:x'", `backend "drive" is not supported`},
		"unknown option":      {"remote: ':smb,host=h,colour=blue:S'", `unknown option "colour"`},
		"unknown options key": {"remote: ':sftp,host=h:/x'\noptions: {shade: 1}", `unknown option "shade"`},
		"named without conf":  {"remote: 'office:docs'", "set rclone_config"},
		"no remote":           {"include: ['*']", "remote is required"},
		"unknown key":         {"remote: /tmp\nremotes: x", "remotes"},
		"bad size":            {"remote: /tmp\nmax_size: lots", "max_size"},
		"bad age":             {"remote: /tmp\nmax_age: ages", "max_age"},
		"key on smb":          {"remote: ':smb,host=h:S'\nkey_file: /k", "takes no key file"},
		"missing env":         {"remote: ':smb,host=h:S'\npassword_env: SHARE_TEST_UNSET_VAR", "SHARE_TEST_UNSET_VAR is not set"},
		"bad hashes":          {"remote: /tmp\nremote_hashes: sometimes", "remote_hashes"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := connectors.New(connectortest.Config(t, "name: x\ntype: share\n"+c.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	_, err := connectors.New(connectortest.Config(t, "name: x\ntype: folder\nremote: /tmp\n"))
	if err == nil || !strings.Contains(err.Error(), "remote") {
		t.Errorf("folder with remote: err = %v, want unknown key remote", err)
	}
}

func TestNamedRemoteFromRcloneConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	os.WriteFile(conf, []byte("[archive]\ntype = local\n"), 0o600)
	s, err := New(connectortest.Config(t, "name: x\ntype: share\nremote: 'archive:"+dir+"'\nrclone_config: "+conf+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	if len(rec.Items) != 1 || rec.Items[0].Ref != "a.txt" {
		t.Errorf("items via rclone.conf remote: %v", rec.Items)
	}
}

// rclone's own NewFs reads RCLONE_* variables; the source must not.
func TestLocalIgnoresRcloneEnv(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "real.txt"), []byte("real"), 0o644)
	if err := os.Symlink("real.txt", filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{
		{"RCLONE_COPY_LINKS", "true"}, {"RCLONE_LOCAL_COPY_LINKS", "true"},
		{"RCLONE_EXCLUDE", "real.txt"},
		{"RCLONE_MAX_SIZE", "1"}, {"RCLONE_LOG_LEVEL", "DEBUG"},
	} {
		t.Setenv(kv[0], kv[1])
	}
	// The variables are live: rclone's NewFs follows the link because of them.
	f, err := fs.NewFs(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewObject(context.Background(), "link.txt"); err != nil {
		t.Fatalf("sanity: rclone's NewFs ignored RCLONE_LOCAL_COPY_LINKS: %v", err)
	}
	s, err := New(connectortest.Config(t, "name: x\ntype: folder\npath: "+dir+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	if len(rec.Items) != 1 || rec.Items[0].Ref != "real.txt" {
		t.Errorf("with RCLONE_* set, scan listed %v: want only real.txt", rec.Items)
	}
}

func TestOptionsAcceptScalars(t *testing.T) {
	s, err := New(connectortest.Config(t, "name: x\ntype: share\nremote: ':smb,host=h:S'\noptions: {port: 4450, hide_special_share: false, domain: CORP}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := s.(*Source).target.config
	for k, want := range map[string]string{"port": "4450", "hide_special_share": "false", "domain": "CORP", "host": "h", "idle_timeout": "1m0s"} {
		if got, _ := m.Get(k); got != want {
			t.Errorf("option %s = %q, want %q", k, got, want)
		}
	}
}

// A remote share opens 8 files at once unless the config says (its files
// cost round trips, which overlap); a local path 4.
func TestTransfersDefault(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want int
	}{
		{Config{Remote: t.TempDir()}, 4},
		{Config{Remote: ":sftp,host=files.example.org:/srv/share"}, 8},
		{Config{Remote: ":smb,host=files.example.org:share"}, 8},
		{Config{Remote: ":sftp,host=files.example.org:/srv/share", Transfers: 2}, 2},
	} {
		s, err := NewFromConfig("s", "share", c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Transfers(); got != c.want || cap(s.sem) != c.want {
			t.Errorf("%s (transfers %d): %d at once (semaphore %d), want %d", c.cfg.Remote, c.cfg.Transfers, got, cap(s.sem), c.want)
		}
	}
}
