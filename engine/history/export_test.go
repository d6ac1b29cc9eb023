package history_test

import (
	"encoding/json"
	"testing"

	"github.com/syncd/syncd/engine/history"
)

// A SharePoint item named "../../etc/x.docx" keeps its real folder in the
// JSON export: the path is built from the folder, the name stays raw
// (issue 15, item 6).
func TestExportKeepsFolderOfHostileName(t *testing.T) {
	res := history.Result{Documents: []history.Document{{Key: "d1", Workspace: "legal", Folder: "Shared Documents/Legal",
		Name: "../../etc/x.docx", Versions: []history.Version{{Key: "v1", Blob: "ab", Seq: 1, Sightings: []int64{1}}}}}}
	sightings := map[int64]history.Sighting{1: {ID: 1, Source: "share1", Kind: history.KindShare, Path: "Legal", Name: "../../etc/x.docx"}}
	b, err := json.Marshal(history.Export(res, sightings))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Documents []struct {
			Path, Folder, Name string
			Versions           []struct {
				Sightings []struct{ Path string }
			}
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	d := got.Documents[0]
	if d.Path != "Shared Documents/Legal/../../etc/x.docx" || d.Folder != "Shared Documents/Legal" || d.Name != "../../etc/x.docx" {
		t.Errorf("document path %q folder %q name %q: want the real folder and the raw name", d.Path, d.Folder, d.Name)
	}
	if p := d.Versions[0].Sightings[0].Path; p != "Legal/../../etc/x.docx" {
		t.Errorf("sighting path %q, want Legal/../../etc/x.docx", p)
	}
}
