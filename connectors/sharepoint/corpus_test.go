package sharepoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

// writeCorpus writes a SharePoint export in the evaluation corpus layout
// (DIR/manifest.json + DIR/content/<sha256>) and returns the sha256 of
// each (item id, version id).
func writeCorpus(t *testing.T, dir string) map[[2]string]string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "content"), 0o755)
	drive := "b!corpusDRIVE000000000000000000000000000000000000000000000000000"
	want := map[[2]string]string{}
	var items []any
	for i, folder := range []string{"Workstreams/HR", "Programme Office", ""} {
		id := fmt.Sprintf("01CORPUS%026d", i)
		var vers []any
		for v := 3; v >= 1; v-- {
			data := []byte(fmt.Sprintf("document %d version %d\n", i, v))
			if i == 2 && v == 2 {
				data = []byte("document 2 version 1\n") // a revert: same bytes as 1.0
			}
			sum := sha256.Sum256(data)
			sha := hex.EncodeToString(sum[:])
			os.WriteFile(filepath.Join(dir, "content", sha), data, 0o644)
			vid := fmt.Sprintf("%d.0", v)
			want[[2]string{id, vid}] = sha
			vers = append(vers, map[string]any{"id": vid, "lastModifiedDateTime": fmt.Sprintf("2024-03-%02dT10:00:00Z", 10+v),
				"lastModifiedBy": map[string]any{"user": map[string]any{"displayName": "Siobhán Kelly", "email": "siobhan.kelly@justice.gov.uk"}},
				"size":           len(data), "sha256": sha})
		}
		items = append(items, map[string]any{"id": id, "name": fmt.Sprintf("Doc %d.docx", i),
			"webUrl": "https://justiceuk.sharepoint.com/sites/SSP/Documents/x", "createdDateTime": "2024-03-01T09:00:00Z",
			"lastModifiedDateTime": "2024-03-13T10:00:00Z", "createdBy": map[string]any{"user": map[string]any{"displayName": "A", "email": "a@b.c"}},
			"parentReference": map[string]any{"driveId": drive, "driveType": "documentLibrary", "path": "/drives/" + drive + "/root:/" + folder},
			"file":            map[string]any{"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}, "size": 22, "versions": vers})
	}
	m := map[string]any{"sites": []any{map[string]any{"id": "justiceuk.sharepoint.com,aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa,bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb",
		"name": "SSP", "displayName": "Shared Services", "webUrl": "https://justiceuk.sharepoint.com/sites/SSP",
		"drives": []any{map[string]any{"id": drive, "name": "Documents", "driveType": "documentLibrary", "items": items}}}}}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return want
}

func TestCorpusLayoutRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := writeCorpus(t, dir)
	f, err := graphfake.NewFromManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("SYNCD_TEST_GRAPH_TOKEN", "any")
	src, err := connectors.New(connectortest.Config(t, "name: corpus\ntype: sharepoint\naccess_token_env: SYNCD_TEST_GRAPH_TOKEN\nsite: justiceuk.sharepoint.com:/sites/SSP\ngraph_url: "+f.URL()+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rec, _ := connectortest.Scan(t, src, nil)
	if len(rec.Content()) != len(want) {
		t.Fatalf("%d versions reported, manifest has %d", len(rec.Content()), len(want))
	}
	for _, it := range rec.Content() {
		b := read(t, src.(*Source), it)
		sum := sha256.Sum256(b)
		k := [2]string{it.Lineage.ItemID, it.Lineage.VersionID}
		if hex.EncodeToString(sum[:]) != want[k] {
			t.Errorf("%v: bytes do not match the manifest's sha256", k)
		}
		if it.Author != "siobhan.kelly@justice.gov.uk" {
			t.Errorf("%v: author %q", k, it.Author)
		}
	}
}

func TestSourceOptionsReachEverything(t *testing.T) {
	f := newFake(t)
	opts := f.SourceOptions()
	sites := opts["sites"].([]string)
	users := opts["user_drives"].([]string)
	y := "name: demo\ntype: sharepoint\naccess_token_env: SYNCD_TEST_GRAPH_TOKEN\ngraph_url: " + opts["graph_url"].(string) +
		"\nsites: [" + strings.Join(sites, ", ") + "]\nuser_drives: [" + strings.Join(users, ", ") + "]\n"
	t.Setenv("SYNCD_TEST_GRAPH_TOKEN", "demo")
	src, err := connectors.New(connectortest.Config(t, y))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rec, _ := connectortest.Scan(t, src, nil)
	if len(rec.Content()) != 7 {
		t.Errorf("SourceOptions reached %d versions, want 7", len(rec.Content()))
	}
}
