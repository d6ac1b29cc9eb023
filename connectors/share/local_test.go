package share_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/share"
)

// writeTree writes files (path -> content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func newSource(t testing.TB, yaml string) *share.Source {
	t.Helper()
	s, err := connectors.New(connectortest.Config(t, yaml))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*share.Source)
}

func localYAML(dir string) string {
	return fmt.Sprintf("name: docs\ntype: share\nremote: %q\n", dir)
}

var sampleTree = map[string]string{
	"Finance/Q3 Report v1.xlsx":         "q3 v1",
	"Finance/Archive/Q3 Report v1.xlsx": "q3 v1",
	"Finance/Copy of Q3 Report.xlsx":    "q3 copy",
	"Finance/~$Q3 Report v1.xlsx":       "lock",
	"HR/policy.docx":                    "policy text",
	"readme.txt":                        "hello",
}

func TestLocalConformance(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	// No Break: rclone's local backend reports no folder or file it
	// cannot read (it logs it and lists the rest), and a test running as
	// root can read everything.
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Source { return newSource(t, localYAML(dir)+"checkpoint_every: 2\n") },
		Mutate: func(t *testing.T) []string {
			writeTree(t, dir, map[string]string{"HR/policy.docx": "policy text, revised", "HR/new.docx": "new"})
			return []string{"policy.docx", "new.docx"}
		},
	})
}

func TestFolderTypeEqualsShare(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	a, _ := connectortest.Scan(t, newSource(t, localYAML(dir)), nil)
	b, _ := connectortest.Scan(t, newSource(t, fmt.Sprintf("name: docs\ntype: folder\npath: %q\n", dir)), nil)
	if got, want := summary(b.Items), summary(a.Items); got != want {
		t.Errorf("folder items:\n%s\nshare items:\n%s", got, want)
	}
	if len(a.Items) != len(sampleTree) {
		t.Errorf("got %d items, want %d", len(a.Items), len(sampleTree))
	}
}

// summary renders items (ref, size, fingerprint, skip) sorted, for comparison.
func summary(items []*connectors.Item) string {
	var lines []string
	for _, it := range items {
		lines = append(lines, fmt.Sprintf("%s|%s|%s|%d|%s|%s", it.Ref, it.Path, it.Name, it.Size, it.Fingerprint, it.Skip))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestItemFields(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	mt := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "HR", "policy.docx"), mt, mt); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, localYAML(dir))
	rec, _ := connectortest.Scan(t, s, nil)
	byRef := map[connectors.Ref]*connectors.Item{}
	for _, it := range rec.Items {
		byRef[it.Ref] = it
	}
	p := byRef["HR/policy.docx"]
	if p == nil {
		t.Fatalf("HR/policy.docx not listed: %s", summary(rec.Items))
	}
	if p.Name != "policy.docx" || p.Path != "HR" || p.Size != 11 || !p.ModTime.Equal(mt) {
		t.Errorf("policy.docx: name=%q path=%q size=%d mtime=%v", p.Name, p.Path, p.Size, p.ModTime)
	}
	if p.Lineage.Kind != "share" || p.Lineage.Remote != dir || p.Lineage.Owner == "" {
		t.Errorf("policy.docx lineage = %+v", p.Lineage)
	}
	if len(p.Hashes) != 0 {
		t.Errorf("local items must not carry hashes (would read the file): %v", p.Hashes)
	}
	if lock := byRef["Finance/~$Q3 Report v1.xlsx"]; lock == nil || lock.Skip != "lockfile" {
		t.Errorf("office lock file not skipped: %+v", lock)
	}
	if top := byRef["readme.txt"]; top == nil || top.Path != "" {
		t.Errorf("top-level file: %+v", top)
	}
}

func TestFilters(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a.docx": "doc", "b.tmp": "tmp", "big.docx": strings.Repeat("x", 5000),
		"Private/c.docx": "private", "d.xlsx": "sheet",
	})
	yaml := localYAML(dir) + "include: ['*.docx', '*.xlsx']\nexclude: ['Private/**']\nmax_size: 1k\n"
	rec, _ := connectortest.Scan(t, newSource(t, yaml), nil)
	var got []string
	for _, it := range rec.Items {
		got = append(got, string(it.Ref))
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "a.docx,d.xlsx" {
		t.Errorf("filtered scan listed %v, want [a.docx d.xlsx]", got)
	}
}

func TestSymlinkLoopNotFollowed(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a/one.txt": "1", "a/b/two.txt": "2"})
	if err := os.Symlink("..", filepath.Join(dir, "a", "b", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("one.txt", filepath.Join(dir, "a", "link.txt")); err != nil {
		t.Fatal(err)
	}
	rec, _ := connectortest.Scan(t, newSource(t, localYAML(dir)), nil)
	if got := summaryRefs(rec.Items); got != "a/b/two.txt,a/one.txt" {
		t.Errorf("scan with a symlink loop listed %s", got)
	}
}

func summaryRefs(items []*connectors.Item) string {
	var refs []string
	for _, it := range items {
		refs = append(refs, string(it.Ref))
	}
	sort.Strings(refs)
	return strings.Join(refs, ",")
}

func TestNonUTF8Name(t *testing.T) {
	dir := t.TempDir()
	bad := "caf\xe9 menu.txt" // Latin-1 e-acute: not valid UTF-8
	if err := os.WriteFile(filepath.Join(dir, bad), []byte("latin"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, localYAML(dir))
	rec, _ := connectortest.Scan(t, s, nil)
	if len(rec.Items) != 1 {
		t.Fatalf("want 1 item, got %s", summary(rec.Items))
	}
	it := rec.Items[0]
	if !utf8.ValidString(it.Name) || !utf8.ValidString(string(it.Ref)) {
		t.Errorf("name %q / ref %q not valid UTF-8", it.Name, it.Ref)
	}
	it.Private = nil // open by Ref alone, as after a restart
	if got := string(connectortest.ReadAll(t, s, it)); got != "latin" {
		t.Errorf("read %q", got)
	}
}

func TestDeepTree(t *testing.T) {
	dir := t.TempDir()
	deep := strings.Repeat("d/", 150) + "bottom.txt"
	writeTree(t, dir, map[string]string{deep: "deep"})
	rec, _ := connectortest.Scan(t, newSource(t, localYAML(dir)), nil)
	if len(rec.Items) != 1 || string(rec.Items[0].Ref) != deep {
		t.Fatalf("deep tree: %s", summary(rec.Items))
	}
}

func TestOpenVanishedAndChanged(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"gone.txt": "gone", "changed.txt": "before", "reading.txt": strings.Repeat("r", 256<<10)})
	s := newSource(t, localYAML(dir))
	rec, _ := connectortest.Scan(t, s, nil)
	items := map[string]*connectors.Item{}
	for _, it := range rec.Items {
		items[it.Name] = it
	}
	os.Remove(filepath.Join(dir, "gone.txt"))
	err := openRead(s, items["gone.txt"])
	if !errors.Is(err, connectors.ErrNotFound) || !strings.Contains(fmt.Sprint(err), "gone.txt") {
		t.Errorf("open of a removed file: %v, want ErrNotFound naming gone.txt", err)
	}
	writeTree(t, dir, map[string]string{"changed.txt": "after, longer"})
	err = openRead(s, items["changed.txt"])
	if !errors.Is(err, connectors.ErrChanged) || !strings.Contains(fmt.Sprint(err), "changed.txt") {
		t.Errorf("open of a changed file: %v, want ErrChanged naming changed.txt", err)
	}
	stale := *items["changed.txt"]
	stale.Private = nil // as after a restart: Open checks before reading
	if _, err = s.Open(context.Background(), &stale); !errors.Is(err, connectors.ErrChanged) {
		t.Errorf("open by ref of a changed file: %v, want ErrChanged", err)
	}
	t.Run("vanishes while read", func(t *testing.T) {
		err := readWhile(t, s, items["reading.txt"], func() { os.Remove(filepath.Join(dir, "reading.txt")) })
		if !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("file removed while read: %v, want ErrNotFound", err)
		}
	})
	writeTree(t, dir, map[string]string{"reading.txt": strings.Repeat("r", 256<<10)})
	rec, _ = connectortest.Scan(t, s, nil)
	for _, it := range rec.Items {
		items[it.Name] = it
	}
	t.Run("grows while read", func(t *testing.T) {
		err := readWhile(t, s, items["reading.txt"], func() {
			f, _ := os.OpenFile(filepath.Join(dir, "reading.txt"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("appended")
			f.Close()
		})
		if !errors.Is(err, connectors.ErrChanged) {
			t.Errorf("file appended while read: %v, want ErrChanged", err)
		}
	})
	if c := s.Counters(); c.ChangedReads < 3 {
		t.Errorf("changed_reads counter = %d, want >= 3", c.ChangedReads)
	}
}

// readWhile opens it, reads a little, calls during, then reads to the end.
func readWhile(t *testing.T, s connectors.Source, it *connectors.Item, during func()) error {
	t.Helper()
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	during()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// openRead opens it and reads it to the end.
func openRead(s connectors.Source, it *connectors.Item) error {
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}
