package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteDirReadsDocumentsOnce: plan.json and documents.csv come from
// one pass over a streamed document list (each pass reads every document
// back from the catalog), and documents.csv is what WriteDocumentsCSV
// writes on its own.
func TestWriteDirReadsDocumentsOnce(t *testing.T) {
	docs := []Document{
		{ID: "d-1", Workspace: "dept", Folder: "a", Name: "=cmd.docx", Change: ChangeNew, Copies: 2, Sources: []string{"mail", "share"}},
		{ID: "d-2", Workspace: "dept", Name: "b.docx", Change: ChangeUpdated, Copies: 1, Sources: []string{"mail"}},
		{ID: "d-3", Workspace: "dept", Name: "c.docx", Copies: 1},
	}
	passes := 0
	r := &Report{Kind: "plan", Documents: DocumentList{Top: docs[:1], Len: int64(len(docs)), each: func(fn func(Document) error) error {
		passes++
		for _, d := range docs {
			if err := fn(d); err != nil {
				return err
			}
		}
		return nil
	}}}
	dir := t.TempDir()
	if err := WriteDir(dir, r); err != nil {
		t.Fatal(err)
	}
	if passes != 1 {
		t.Errorf("WriteDir read the documents %d times, want 1", passes)
	}
	for _, f := range []struct{ name, format string }{{FileJSON, FormatJSON}, {FileDocuments, FormatDocuments}, {FileItems, FormatCSV}, {FileHTML, FormatHTML}} {
		got, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := Write(&want, r, f.format); err != nil {
			t.Fatal(err)
		}
		if f.name == FileHTML {
			continue // the page has a generation time of its own; it is here to exist
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s from WriteDir differs from Write's:\n%s\n--- want ---\n%s", f.name, got, want.Bytes())
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, FileDocuments))
	if n := strings.Count(string(csv), "\n"); n != 1+len(docs) {
		t.Errorf("documents.csv has %d lines, want a header and %d rows", n, len(docs))
	}
	if !strings.Contains(string(csv), "'=cmd.docx") {
		t.Error("documents.csv does not defuse a formula-like name")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestWriteDirNullDocuments: a report without a document list keeps
// writing it as null, with a documents.csv of its header alone.
func TestWriteDirNullDocuments(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDir(dir, &Report{Kind: "plan"}); err != nil {
		t.Fatal(err)
	}
	js, _ := os.ReadFile(filepath.Join(dir, FileJSON))
	if !strings.Contains(string(js), `"documents": null`) {
		t.Errorf("plan.json of an empty report: no null document list:\n%s", js)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, FileDocuments))
	if n := strings.Count(string(csv), "\n"); n != 1 {
		t.Errorf("documents.csv of an empty report has %d lines, want the header", n)
	}
}
