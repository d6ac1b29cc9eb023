package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
	"github.com/syncd/syncd/workspace/historytest"
)

// wholePlanTree is planTree as it was before the export streamed: every
// document of a workspace planned at once, in key order. The streamed
// export must give the same entries.
func wholePlanTree(docs []workspace.Document, seen map[int64]string) []ManifestEntry {
	docs = append([]workspace.Document(nil), docs...)
	sort.Slice(docs, func(i, j int) bool { return docs[i].Key < docs[j].Key })
	c := newClaims(nil)
	spelling := map[string]string{}
	folderOf := make([]string, len(docs))
	for i, d := range docs {
		if len(d.Versions) == 0 {
			continue
		}
		cur := ""
		for _, seg := range strings.Split(SafePath(d.Folder), "/") {
			if seg == "" {
				continue
			}
			next := path.Join(cur, seg)
			if s, ok := spelling[strings.ToLower(next)]; ok {
				next = s
			} else {
				spelling[strings.ToLower(next)] = next
				c.taken[strings.ToLower(next)] = true
			}
			cur = next
		}
		folderOf[i] = cur
	}
	var out []ManifestEntry
	for i, d := range docs {
		out = append(out, planDocument(c, folderOf[i], d, seen)...)
	}
	return out
}

// trickyDocs are documents whose folders differ only in case or in
// characters SafeName replaces, whose names collide with each other and
// with folders, in a key order that is not the folder order.
func trickyDocs(t *testing.T, blobs dedupe.BlobStore) []workspace.Document {
	folders := []string{"finance", "Finance/2024", "FINANCE", "", "a:b", "a_b/c", `x\..\y`, "Finance/2024/Q1", "./finance/", "R&D/<Drafts>", "con"}
	names := []string{"Report.docx", "report.DOCX", "2024", "Q1", ".versions", "CON.txt", strings.Repeat("long ", 60) + ".pdf", "finance", "a_b", ".syncd-manifest.json", "<b>x</b>.html"}
	var docs []workspace.Document
	for i := range 60 {
		d := workspace.Document{Key: fmt.Sprintf("k%02d", (i*37)%60), Workspace: []string{"ws", "WS", "other"}[i%3],
			Folder: folders[(i*7)%len(folders)], Name: names[(i*5)%len(names)]}
		for v := range 1 + i%3 {
			sums, err := blobs.Put(context.Background(), strings.NewReader(fmt.Sprintf("doc %d version %d", i, v)))
			if err != nil {
				t.Fatal(err)
			}
			ver := workspace.Version{Key: fmt.Sprintf("v%02d-%d", i, v), Blob: sums.ID, Seq: 1 + v, Author: "a"}
			if v != 1 {
				ver.Time = time.Date(2024, 1, 1+v, 9, 0, 0, 0, time.UTC)
			}
			if i%4 == 0 {
				ver.Sightings = []int64{int64(i*10 + v), 999999}
			}
			d.Versions = append(d.Versions, ver)
		}
		if i == 13 {
			d.Versions = nil // a document without versions exports nothing
		}
		docs = append(docs, d)
	}
	return docs
}

// checkAgainstWhole compares the exported manifests under dir with the
// whole-workspace plan of docs: the same entries in the same order, and
// the bytes json.MarshalIndent gives.
func checkAgainstWhole(t *testing.T, dir string, docs []workspace.Document, seen map[int64]string, blobs dedupe.BlobStore) {
	t.Helper()
	byWS := map[string][]workspace.Document{}
	for _, d := range docs {
		byWS[d.Workspace] = append(byWS[d.Workspace], d)
	}
	var wss []string
	for w := range byWS {
		wss = append(wss, w)
	}
	sort.Strings(wss)
	names := newClaims(nil)
	entries := 0
	for _, w := range wss {
		ws := names.claim("", SafeName(w))
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ws), ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		var got []ManifestEntry
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		want := wholePlanTree(byWS[w], seen)
		for i := range want {
			id, _ := dedupe.ParseID(want[i].SHA256)
			info, err := blobs.Stat(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			want[i].Size = info.Size
		}
		if want == nil {
			want = []ManifestEntry{}
		}
		wantB, err := json.MarshalIndent(want, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, wantB) {
			if !reflect.DeepEqual(got, want) {
				for i := range min(len(got), len(want)) {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("workspace %s entry %d:\ngot  %+v\nwant %+v", w, i, got[i], want[i])
					}
				}
				t.Fatalf("workspace %s: %d entries, want %d", w, len(got), len(want))
			}
			t.Fatalf("workspace %s: manifest bytes differ from json.MarshalIndent:\ngot  %.400s\nwant %.400s", w, b, wantB)
		}
		entries += len(want)
	}
	if entries == 0 {
		t.Fatal("nothing exported")
	}
}

// TestTreeStreamedIsWholePlan: the export planned one folder at a time
// writes the manifests (and so the paths) the whole-workspace plan gives,
// byte for byte, from documents in memory and from a catalog.
func TestTreeStreamedIsWholePlan(t *testing.T) {
	ctx := context.Background()
	t.Run("memory", func(t *testing.T) {
		blobs := dedupe.NewMem()
		docs := trickyDocs(t, blobs)
		seen := map[int64]string{}
		for i := range 60 {
			seen[int64(i*10)] = fmt.Sprintf("share: <%d>", i)
		}
		dir := t.TempDir()
		for range 2 { // the second export changes nothing and must agree too
			st, err := WriteTree(ctx, docs, seen, blobs, dir)
			if err != nil || len(st.Problems) > 0 {
				t.Fatalf("export: %v %q", err, st.Problems)
			}
			checkAgainstWhole(t, dir, docs, seen, blobs)
		}
	})
	t.Run("catalog", func(t *testing.T) {
		cat, err := workspace.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), workspace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		blobs := dedupe.NewMem()
		historytest.Fill(t, cat, 300, blobs)
		docs, err := cat.Documents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]string{}
		if err := cat.EachSighting(ctx, func(s workspace.Sighting) error { seen[s.ID] = describeSighting(s); return nil }); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		st, err := ExportTree(ctx, cat, blobs, dir)
		if err != nil || len(st.Problems) > 0 || st.Files == 0 {
			t.Fatalf("export: %v %+v", err, st)
		}
		checkAgainstWhole(t, dir, docs, seen, blobs)
	})
}
