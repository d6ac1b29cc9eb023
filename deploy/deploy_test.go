// Package deploy_test checks what deploy/ and the Containerfile ship: the
// image `make image` builds runs syncd (as its unprivileged user, with no
// libc, time zone files or CA bundle from a base image), and the
// Kubernetes example is a config syncd accepts, wired to what the image
// and the daemon expect.
package deploy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/syncd/syncd/engine"
)

// TestImage builds the image with buildah (storage in a temporary
// directory, chroot isolation: no daemon, no registry) and runs
// `syncd version` and the demo job in it.
func TestImage(t *testing.T) {
	if _, err := exec.LookPath("buildah"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("buildah is not installed (Debian package buildah): the image cannot be built")
		}
		t.Skip("buildah not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	global := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}
	buildah := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command("buildah", append(slices.Clone(global), args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	b := make([]byte, 6)
	rand.Read(b)
	image := "localhost/syncd-test:" + hex.EncodeToString(b)
	mk := exec.Command("make", "-C", root, "image", "IMAGE_ENGINE=buildah", "IMAGE="+image,
		"BUILDAH_FLAGS="+strings.Join(append(slices.Clone(global), "--isolation", "chroot"), " "))
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		buildah("rm", "--all")
		buildah("rmi", "--all", "--force")
	})
	if out, err := buildah("inspect", "--format", "{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Cmd}}", image); err != nil ||
		!strings.HasPrefix(out, "65532:65532|[/usr/local/bin/syncd]|[run --config /etc/syncd/syncd.yaml") {
		t.Errorf("image config: %q %v; want user 65532, syncd as the entrypoint, the daemon as the command", out, err)
	}
	ctr, err := buildah("from", image)
	if err != nil {
		t.Fatalf("buildah from: %v\n%s", err, ctr)
	}
	ctr = strings.TrimSpace(ctr)
	mnt, err := buildah("mount", ctr)
	if err != nil {
		t.Fatalf("buildah mount: %v\n%s", err, mnt)
	}
	mnt = strings.TrimSpace(mnt)
	defer buildah("umount", ctr)
	// run runs a command in the image: with buildah run, or, where this
	// machine does not let buildah isolate a process (no chroot or mount
	// namespace for it), the image's own binary from its root file
	// system, with the image's environment (as this test's user).
	isolated := true
	run := func(args ...string) string {
		t.Helper()
		if isolated {
			out, err := buildah(append([]string{"run", "--isolation", "chroot", ctr, "--"}, args...)...)
			if err == nil {
				return out
			}
			if !refused(out) {
				t.Fatalf("in the image, %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			t.Logf("buildah may not isolate a process here; running the image's binary from its root file system:\n%s", out)
			isolated = false
		}
		inRoot := make([]string, len(args))
		for i, a := range args {
			if strings.HasPrefix(a, "/") {
				a = filepath.Join(mnt, a)
			}
			inRoot[i] = a
		}
		cmd := exec.Command(inRoot[0], inRoot[1:]...)
		cmd.Env = []string{"SSL_CERT_FILE=" + filepath.Join(mnt, "etc/ssl/certs/ca-certificates.crt"), "HOME=" + filepath.Join(mnt, "var/lib/syncd"), "TMPDIR=" + filepath.Join(mnt, "tmp")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the image's %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("/usr/local/bin/syncd", "version"); !strings.Contains(out, "syncd ") || !strings.Contains(out, "linux/") {
		t.Errorf("syncd version in the image:\n%s", out)
	}
	out := run("/usr/local/bin/syncd", "demo", "--dir", "/tmp/demo")
	if !strings.Contains(out, " 0 problems)") || !strings.Contains(out, "documents") {
		t.Errorf("the demo job in the image:\n%s", out)
	}
	fi, err := os.Stat(filepath.Join(mnt, "tmp", "demo", "store", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fileOwner(fi); uid != 65532 && isolated {
		t.Errorf("the demo's catalog is owned by uid %d: the image runs syncd as 65532", uid)
	}
}

// TestKubernetesExample: the example's config is one syncd accepts; its
// secrets come from the Secret, named by the config's *_env keys; the
// daemon's flags name the mounted files; the probes use the daemon's
// unauthenticated paths.
func TestKubernetesExample(t *testing.T) {
	f, err := os.Open(filepath.Join("kubernetes", "syncd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(f)
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		docs[d["kind"].(string)] = d
	}
	for _, k := range []string{"ConfigMap", "Secret", "Deployment"} {
		if docs[k] == nil {
			t.Fatalf("no %s in the example", k)
		}
	}
	cfgText := docs["ConfigMap"]["data"].(map[string]any)["syncd.yaml"].(string)
	cfg, err := engine.ParseConfig("/etc/syncd/syncd.yaml", []byte(cfgText))
	if err != nil {
		t.Fatalf("the example's syncd.yaml: %v", err)
	}
	if len(cfg.Jobs) == 0 || !cfg.Jobs[0].Sources[0].Partition {
		t.Errorf("the example's job: %+v; want its mail source partitioned", cfg.Jobs)
	}
	secret := docs["Secret"]["stringData"].(map[string]any)
	spec := docs["Deployment"]["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	c := spec["containers"].([]any)[0].(map[string]any)
	env := map[string]bool{}
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		ref := e["valueFrom"].(map[string]any)["secretKeyRef"].(map[string]any)
		if _, ok := secret[ref["key"].(string)]; !ok {
			t.Errorf("env %s names key %s, which the Secret does not have", e["name"], ref["key"])
		}
		env[e["name"].(string)] = true
	}
	for _, name := range regexpAll(`(?m)\b\w+_env: (\w+)`, cfgText) {
		if !env[name] {
			t.Errorf("the config reads $%s, which the Deployment does not set", name)
		}
	}
	args := strings.Join(toStrings(c["args"].([]any)), " ")
	mounts := map[string]bool{}
	for _, m := range c["volumeMounts"].([]any) {
		mounts[m.(map[string]any)["mountPath"].(string)] = true
	}
	for flag, dir := range map[string]string{"--config /etc/syncd/syncd.yaml": "/etc/syncd", "--token-file /run/secrets/syncd/api-token": "/run/secrets/syncd"} {
		if !strings.Contains(args, flag) || !mounts[dir] {
			t.Errorf("args %q: want %s, from a volume mounted at %s (mounts %v)", args, flag, dir, mounts)
		}
	}
	if !mounts["/var/lib/syncd"] || !mounts["/tmp"] {
		t.Errorf("mounts %v: the store's directory and /tmp must be writable volumes (the root file system is read-only)", mounts)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		p, _ := c[probe].(map[string]any)
		if p == nil || p["httpGet"].(map[string]any)["path"] != path {
			t.Errorf("%s: %v, want GET %s (served without the token)", probe, p, path)
		}
	}
}

// refused says whether buildah's output is the kernel refusing it what
// isolation needs.
func refused(out string) bool {
	out = strings.ToLower(out)
	return strings.Contains(out, "operation not permitted") || (strings.Contains(out, "permission denied") && strings.Contains(out, "chroot"))
}

func regexpAll(expr, s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(expr).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func toStrings(v []any) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = x.(string)
	}
	return out
}
