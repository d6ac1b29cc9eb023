package history_test

import (
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine/history"
)

// Copies seen at the same time give the same document folder and name
// whatever order they were ingested in (catalog ids follow the timing of
// parallel downloads, so they must not break ties).
func TestEqualTimeCopiesDoNotDependOnIngestOrder(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	blob := "ab" + "00000000000000000000000000000000000000000000000000000000000000"
	mk := func(ids [3]int64) history.Result {
		ss := []history.Sighting{
			{ID: ids[0], Source: "share-a", Kind: history.KindShare, Blob: blob, Size: 10, Name: "Plan.docx", Path: "Team A", Time: t0, Workspace: "w", Lineage: connectors.Lineage{Kind: "share"}},
			{ID: ids[1], Source: "share-b", Kind: history.KindShare, Blob: blob, Size: 10, Name: "Plan final.docx", Path: "Team B", Time: t0, Workspace: "w", Lineage: connectors.Lineage{Kind: "share"}},
			{ID: ids[2], Source: "share-a", Kind: history.KindShare, Blob: blob, Size: 10, Name: "Plan (1).docx", Path: "Archive", Time: t0, Workspace: "w", Lineage: connectors.Lineage{Kind: "share"}},
		}
		return history.Rebuild(history.Input{Sightings: ss})
	}
	want := mk([3]int64{1, 2, 3})
	if len(want.Documents) != 1 {
		t.Fatalf("want one document, got %+v", want.Documents)
	}
	for _, ids := range [][3]int64{{3, 2, 1}, {2, 3, 1}, {1, 3, 2}, {3, 1, 2}, {2, 1, 3}} {
		got := mk(ids)
		if len(got.Documents) != 1 || got.Documents[0].Folder != want.Documents[0].Folder || got.Documents[0].Name != want.Documents[0].Name ||
			got.Documents[0].Versions[0].Author != want.Documents[0].Versions[0].Author {
			t.Errorf("ingest order %v: document %q/%q, want %q/%q", ids, got.Documents[0].Folder, got.Documents[0].Name, want.Documents[0].Folder, want.Documents[0].Name)
		}
	}
}
