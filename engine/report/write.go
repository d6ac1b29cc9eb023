package report

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncd/syncd/internal/jsonx"
)

// Output files written by WriteDir.
const (
	FileHTML      = "report.html"
	FileJSON      = "plan.json"
	FileItems     = "items.csv"
	FileDocuments = "documents.csv"
)

// Formats accepted by Write.
const (
	FormatHTML      = "html"
	FormatJSON      = "json"
	FormatCSV       = "csv" // items.csv
	FormatDocuments = "documents-csv"
)

// ErrFormat is returned for an unknown output format.
var ErrFormat = errors.New("unknown report format (want html, json, csv or documents-csv)")

// Write writes the report in one format to w.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatHTML:
		return WriteHTML(w, r)
	case FormatJSON:
		return WriteJSON(w, r)
	case FormatCSV:
		return WriteItemsCSV(w, r)
	case FormatDocuments:
		return WriteDocumentsCSV(w, r)
	}
	return fmt.Errorf("report: %q: %w", format, ErrFormat)
}

// WriteDir writes report.html, plan.json, items.csv and documents.csv into
// dir (created if needed). Each file is written under a temporary name and
// renamed, so a reader never sees half a report. documents.csv and
// items.csv are written during plan.json's pass over the documents and
// items: each pass reads every one back from the catalog, the larger
// part of a big plan's time.
func WriteDir(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeFile(filepath.Join(dir, FileHTML), func(w io.Writer) error { return WriteHTML(w, r) }); err != nil {
		return err
	}
	withRows := *r
	var csvs []*csvFile
	defer func() {
		for _, f := range csvs {
			f.abort()
		}
	}()
	for _, c := range []struct {
		name   string
		header []string
	}{{FileDocuments, DocumentsHeader}, {FileItems, ItemsHeader}} {
		f, err := createFile(filepath.Join(dir, c.name))
		if err != nil {
			return err
		}
		cf := &csvFile{atomicFile: f}
		csvs = append(csvs, cf)
		if cf.cw, err = StartCSV(f.w, c.header); err != nil {
			return err
		}
	}
	withRows.Documents = r.Documents.tee(func(d Document) error { return documentRow(csvs[0].cw, d) })
	withRows.Items = r.Items.tee(func(it Item) error { return itemRow(csvs[1].cw, it) })
	if err := writeFile(filepath.Join(dir, FileJSON), func(w io.Writer) error { return WriteJSON(w, &withRows) }); err != nil {
		return err
	}
	for _, f := range csvs {
		f.cw.Flush()
		if err := f.cw.Error(); err != nil {
			return fmt.Errorf("report: write %s: %w", f.path, err)
		}
	}
	for _, f := range slices.Backward(csvs) {
		if err := f.commit(); err != nil {
			return err
		}
	}
	return nil
}

// csvFile is a CSV file written beside plan.json.
type csvFile struct {
	*atomicFile
	cw *csv.Writer
}

// atomicFile is a file written under a temporary name in its directory
// and renamed into place by commit.
type atomicFile struct {
	path string
	tmp  *os.File
	w    *bufio.Writer
	done bool
}

func createFile(path string) (*atomicFile, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return &atomicFile{path: path, tmp: tmp, w: bufio.NewWriter(tmp)}, nil
}

func (f *atomicFile) commit() error {
	f.done = true
	err := f.w.Flush()
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.tmp.Name())
		return fmt.Errorf("report: write %s: %w", f.path, err)
	}
	return nil
}

// abort removes the file unless it was committed.
func (f *atomicFile) abort() {
	if !f.done {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
	}
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := createFile(path)
	if err != nil {
		return err
	}
	defer f.abort()
	if err := write(f.w); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return f.commit()
}

// WriteJSON writes plan.json: the whole report, indented, keys in a fixed
// order (docs/plan-schema.md).
// It is streamed a list element at a time (jsonx.WriteIndented): encoded
// whole, the report was held in memory twice over (63 MB of plan.json for
// 100,000 sightings).
func WriteJSON(w io.Writer, r *Report) error {
	if err := jsonx.WriteIndented(w, r, "  ", false); err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	return nil
}

// bom starts each CSV so spreadsheet programs read it as UTF-8.
const bom = "\ufeff"

// ItemsHeader is the header row of items.csv.
var ItemsHeader = []string{"source", "ref", "name", "size", "action", "workspace", "document", "version", "reason", "document_id", "sha256"}

// WriteItemsCSV writes one row per item.
func WriteItemsCSV(w io.Writer, r *Report) error {
	cw, err := StartCSV(w, ItemsHeader)
	if err != nil {
		return err
	}
	err = r.Items.All(func(it Item) error { return itemRow(cw, it) })
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

// itemRow writes the items.csv row of it.
func itemRow(cw *csv.Writer, it Item) error {
	ver := ""
	if it.Version > 0 {
		ver = strconv.Itoa(it.Version)
	}
	reason := it.Reason
	if it.detail != "" {
		reason += ": " + it.detail
	}
	return cw.Write([]string{Cell(it.Source), Cell(it.Ref), Cell(it.Name), strconv.FormatInt(it.Size, 10), it.Action,
		Cell(it.Workspace), Cell(it.Document), ver, Cell(reason), it.DocID, it.SHA256})
}

// DocumentsHeader is the header row of documents.csv.
var DocumentsHeader = []string{"workspace", "folder", "name", "document_id", "change", "versions", "copies", "sources",
	"first_time", "latest_time", "latest_author", "size", "forks", "latest_versions", "link_reasons"}

// WriteDocumentsCSV writes one row per document, as the catalog streams
// them.
func WriteDocumentsCSV(w io.Writer, r *Report) error {
	cw, err := StartCSV(w, DocumentsHeader)
	if err != nil {
		return err
	}
	err = r.Documents.All(func(d Document) error { return documentRow(cw, d) })
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

// documentRow writes the documents.csv row of d.
func documentRow(cw *csv.Writer, d Document) error {
	first := ""
	if len(d.Versions) > 0 {
		first = csvTime(d.Versions[0].Time)
	}
	return cw.Write([]string{Cell(d.Workspace), Cell(d.Folder), Cell(d.Name), d.ID, d.Change,
		strconv.Itoa(len(d.Versions)), strconv.Itoa(d.Copies), Cell(strings.Join(d.Sources, "; ")),
		first, csvTime(d.LatestAt), Cell(d.LatestBy), strconv.FormatInt(d.TotalSize, 10),
		strconv.Itoa(d.Forks), strconv.Itoa(d.Heads), strings.Join(linkReasons(d), "; ")})
}

func linkReasons(d Document) []string {
	var out []string
	for _, v := range d.Versions {
		for _, l := range v.Parents {
			if !slices.Contains(out, l.Reason) {
				out = append(out, l.Reason)
			}
		}
	}
	return out
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Cell is the one function that makes a CSV cell safe: text a
// spreadsheet would run as a formula (a file named "=HYPERLINK(...)") gets
// a leading apostrophe.
func Cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// StartCSV writes the byte-order mark and the header row.
func StartCSV(w io.Writer, header []string) (*csv.Writer, error) {
	if _, err := io.WriteString(w, bom); err != nil {
		return nil, fmt.Errorf("report: csv: %w", err)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return nil, fmt.Errorf("report: csv: %w", err)
	}
	return cw, nil
}
