// Package historytest fills a catalog with sightings and a stored
// history for tests of the readers of history (export, tree export,
// report): mail, share and SharePoint copies, several workspaces and
// folders (some differing only in case), repeated names, copies seen gone.
package historytest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// Blob is the content of version v of document i.
func Blob(i, v int) []byte { return fmt.Appendf(nil, "document %d version %d\n", i, v) }

// Fill stores n documents (1-3 versions each, 1-3 copies per version)
// with their sightings, through Commit and ReplaceHistory, in one run of
// job "job" (its id is returned). The run records an item for each
// sighting (the first copy of a content new, the others duplicates), a
// skipped lock file for every fifth document and an unreadable file for
// every seventh. blobs, when not nil, receives every content.
func Fill(tb testing.TB, cat *workspace.Catalog, n int, blobs dedupe.BlobStore) int64 {
	tb.Helper()
	ctx := context.Background()
	run, err := cat.StartRun(ctx, "job", "sync")
	if err != nil {
		tb.Fatal(err)
	}
	type ver struct {
		doc, v int
		blob   dedupe.ID
		refs   []string
		t      time.Time
	}
	var vers []ver
	b := &workspace.Batch{RunID: run}
	flush := func() {
		if _, err := cat.Commit(ctx, b); err != nil {
			tb.Fatal(err)
		}
		b = &workspace.Batch{RunID: run}
	}
	var gone []workspace.Mark
	for i := range n {
		ws, folder, name := place(i)
		for v := range 1 + i%3 {
			data := Blob(i, v)
			var sums dedupe.Sums
			if blobs != nil {
				if sums, err = blobs.Put(ctx, strings.NewReader(string(data))); err != nil {
					tb.Fatal(err)
				}
			} else {
				sums, _ = dedupe.HashReader(strings.NewReader(string(data)))
			}
			b.Blobs = append(b.Blobs, workspace.Blob{Sums: sums, Sketched: true})
			at := time.Date(2024, 1, 1+i%28, 9+v, 0, 0, 0, time.UTC)
			vr := ver{doc: i, v: v, blob: sums.ID, t: at}
			for k := range 1 + (i+v)%3 {
				s := workspace.Sighting{Fingerprint: "f", Blob: sums.ID, Name: name, Size: int64(len(data)), Time: at,
					Author: fmt.Sprintf("author%d", k), Workspace: ws, Folder: folder, RunID: run}
				switch k {
				case 0:
					s.Source, s.Kind, s.Ref, s.Path = "share", "share", fmt.Sprintf("%s/%s#%d.%d", folder, name, i, v), folder
					s.Lineage = connectors.Lineage{Kind: "share"}
				case 1:
					s.Source, s.Kind, s.Ref = "mail", "mail", fmt.Sprintf("INBOX/%d/%d/2", i, v)
					s.Lineage = connectors.Lineage{Kind: "mail"}
					s.Lineage.Account, s.Lineage.Mailbox, s.Lineage.UID = "alice@example.org", "INBOX", uint32(1000+3*i+v)
					s.Lineage.MessageID, s.Lineage.Subject, s.Lineage.From = fmt.Sprintf("<m%d.%d@example.org>", i, v), "About "+name, "bob@example.org"
				default:
					s.Source, s.Kind, s.Ref, s.Path = "sp", "sharepoint", fmt.Sprintf("item%d@%d.0", i, v+1), folder
					s.Lineage = connectors.Lineage{Kind: "sharepoint"}
					s.Lineage.Site, s.Lineage.DriveName, s.Lineage.ItemID, s.Lineage.VersionID = "site", "Documents", fmt.Sprintf("item%d", i), fmt.Sprintf("%d.0", v+1)
				}
				vr.refs = append(vr.refs, s.Source+"\x00"+s.Ref)
				b.Sightings = append(b.Sightings, s)
				act := "new"
				if k > 0 {
					act = "duplicate"
				}
				b.Items = append(b.Items, workspace.RunItem{Source: s.Source, Ref: s.Ref, Name: name, Size: s.Size, Action: act, Blob: sums.ID})
				if (i+k)%11 == 0 {
					gone = append(gone, workspace.Mark{Source: s.Source, Ref: s.Ref, Fingerprint: "f", Gone: true})
				}
			}
			vers = append(vers, vr)
		}
		if i%5 == 0 {
			b.Items = append(b.Items, workspace.RunItem{Source: "share", Ref: fmt.Sprintf("%s/~$%s#%d", folder, name, i), Name: "~$" + name, Size: 162, Action: "skip", Reason: "lockfile"})
		}
		if i%7 == 0 {
			b.Items = append(b.Items, workspace.RunItem{Source: "share", Ref: fmt.Sprintf("%s/locked %d.xlsx", folder, i), Name: fmt.Sprintf("locked %d.xlsx", i), Size: -1,
				Action: "problem", Reason: "permission-denied", Detail: "open: permission denied"})
		}
		if len(b.Sightings) >= 2000 {
			flush()
		}
	}
	flush()
	b.Marks = gone
	flush()
	ids := map[string]int64{}
	if err := cat.EachSighting(ctx, func(s workspace.Sighting) error { ids[s.Source+"\x00"+s.Ref] = s.ID; return nil }); err != nil {
		tb.Fatal(err)
	}
	var docs []workspace.Document
	for _, vr := range vers {
		if vr.v == 0 {
			ws, folder, name := place(vr.doc)
			docs = append(docs, workspace.Document{Key: fmt.Sprintf("d-%016x", uint64(vr.doc+1)*0x9e3779b97f4a7c15), Workspace: ws, Folder: folder, Name: name})
		}
		d := &docs[len(docs)-1]
		v := workspace.Version{Key: fmt.Sprintf("v-%016x", uint64(vr.doc*4+vr.v+1)*0xbf58476d1ce4e5b9), Blob: vr.blob, Seq: vr.v + 1, Time: vr.t, Author: "author0"}
		if vr.v > 0 {
			v.Parents = []workspace.Link{{Parent: d.Versions[vr.v-1].Key, Reason: "name-family", Confidence: 0.75}}
			if vr.v == 2 && vr.doc%2 == 0 {
				// A fork: version 3 also descends from version 1.
				v.Parents = []workspace.Link{{Parent: d.Versions[0].Key, Reason: "content-similar", Confidence: 0.5}}
			}
		}
		for k := len(vr.refs) - 1; k >= 0; k-- {
			v.Sightings = append(v.Sightings, ids[vr.refs[k]])
		}
		d.Versions = append(d.Versions, v)
	}
	if err := cat.ReplaceHistory(ctx, docs); err != nil {
		tb.Fatal(err)
	}
	return run
}

// place is where document i lives: three workspaces, folders nested and
// differing only in case, names repeated within a folder.
func place(i int) (ws, folder, name string) {
	ws = fmt.Sprintf("ws%d", i%3)
	folders := []string{"", "Finance", "finance", "Finance/2024", "HR/Policies", "R&D/<Drafts>"}
	folder = folders[i%len(folders)]
	name = fmt.Sprintf("Report %d.docx", i%17)
	if i%5 == 0 {
		name = "Agenda.docx"
	}
	return ws, folder, name
}
