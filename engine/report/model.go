// Package report turns what a run (or a dry-run plan) found into a report a
// project lead can read and agree to before anything moves: a
// self-contained report.html, a machine-readable plan.json and two CSV
// files (one row per item, one per document).
//
// The model is deterministic: the same sources and store give the same
// Report, apart from the fields in Volatile (run ids, clock times and the
// rates measured from them), which are kept apart so they can be left out
// of comparisons. Everything is sorted; sighting ids (which depend on the
// order concurrent fetches finish) never appear.
package report

import (
	"bytes"
	"encoding/json"
	"time"
)

// FormatVersion is the version of the plan.json format (docs/plan-schema.md).
// It changes when a field is removed or changes meaning; adding fields does
// not change it.
const FormatVersion = 1

// Report is everything the report shows.
type Report struct {
	FormatVersion int    `json:"format_version"`
	Kind          string `json:"kind"` // "plan" (dry run) or "run" (a past real run)
	// Jobs covered, in run order.
	Jobs       []string       `json:"jobs"`
	Totals     Totals         `json:"totals"`
	Sources    []SourceTotal  `json:"sources"`
	Workspaces []Workspace    `json:"workspaces"`
	Documents  DocumentList   `json:"documents"`
	Forks      List[Fork]     `json:"forks"`
	Conflicts  List[Conflict] `json:"conflicts"`
	Duplicates List[DupGroup] `json:"duplicates"`
	Skipped    []ReasonGroup  `json:"skipped"`
	Problems   []ReasonGroup  `json:"problems"`
	Estimate   Estimate       `json:"estimate"`
	Items      List[Item]     `json:"items"`
	// Volatile holds what differs between two runs over the same sources
	// and store. Leave it out when comparing reports.
	Volatile Volatile `json:"volatile"`
}

// Totals are the whole report's counts. Items the store already had
// ("known") are counted but not listed.
type Totals struct {
	Seen           int64 `json:"seen"`           // items listed by the sources (-1: not recorded for this run)
	Known          int64 `json:"known"`          // already in the store: nothing to do
	New            int64 `json:"new"`            // items whose content is stored for the first time
	Duplicate      int64 `json:"duplicate"`      // items whose content is stored already (or by another item)
	Skipped        int64 `json:"skipped"`        // not documents, or excluded
	Problems       int64 `json:"problems"`       // could not be read
	Gone           int64 `json:"gone,omitempty"` // copies found no longer at their source (kept in the store)
	Bytes          int64 `json:"bytes"`          // size of new + duplicate items
	DistinctBlobs  int64 `json:"distinct_contents"`
	NewBytes       int64 `json:"new_bytes"`   // bytes to store
	SavedBytes     int64 `json:"saved_bytes"` // bytes not stored again thanks to dedupe
	Documents      int64 `json:"documents"`   // documents in the store afterwards
	Versions       int64 `json:"versions"`
	NewDocuments   int64 `json:"new_documents"`
	ChangedDocs    int64 `json:"changed_documents"`
	Forks          int64 `json:"forks"`
	Conflicts      int64 `json:"conflicts"`
	DuplicateGroup int64 `json:"duplicate_groups"`
}

// SourceTotal is one source's share.
type SourceTotal struct {
	Job  string `json:"job"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Seen and Known are -1 when the run did not record them per source
	// (reports of past runs: the store keeps only run-wide counts).
	Seen          int64  `json:"seen"`
	Known         int64  `json:"known"`
	New           int64  `json:"new"`
	Duplicate     int64  `json:"duplicate"`
	Skipped       int64  `json:"skipped"`
	Problems      int64  `json:"problems"`
	Gone          int64  `json:"gone,omitempty"`
	Bytes         int64  `json:"bytes"`
	DistinctBlobs int64  `json:"distinct_contents"`
	NewBytes      int64  `json:"new_bytes"`
	SavedBytes    int64  `json:"saved_bytes"`
	Error         string `json:"error,omitempty"` // the source stopped early
}

// List is one of the report's long lists (items, documents, forks,
// conflicts, duplicates, the items of a skip or problem reason).
// Only the first few (Top, what report.html shows) are held; the whole
// list is read from the catalog, one element at a time, each time it is
// written (plan.json and the CSV files).
type List[T any] struct {
	Top  []T   // the first elements, at most as many as the page shows
	Len  int64 // how many there are
	each func(func(T) error) error
}

// DocumentList is the report's documents.
type DocumentList = List[Document]

// ListOf is a list held in memory.
func ListOf[T any](all []T) List[T] {
	return List[T]{Top: all, Len: int64(len(all))}
}

// DocumentsOf is a list of documents held in memory.
func DocumentsOf(docs []Document) DocumentList { return ListOf(docs) }

// All calls fn with every element, in order.
func (l List[T]) All(fn func(T) error) error {
	if l.each != nil {
		return l.each(fn)
	}
	for _, x := range l.Top {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

// tee is the list with f called on each element as it is handed out, so
// that one pass over a streamed list serves two writers. The zero list
// stays the zero list (written as null; f is never called).
func (l List[T]) tee(f func(T) error) List[T] {
	if l.IsNull() {
		return l
	}
	return List[T]{Top: l.Top, Len: l.Len, each: func(fn func(T) error) error {
		return l.All(func(x T) error {
			if err := f(x); err != nil {
				return err
			}
			return fn(x)
		})
	}}
}

// IsNull reports the zero list (written as null, as a nil slice was).
func (l List[T]) IsNull() bool { return l.each == nil && l.Top == nil }

// MarshalJSON writes the list as an array, holding it whole: for small
// reports (WriteJSON streams it).
func (l List[T]) MarshalJSON() ([]byte, error) {
	if l.IsNull() {
		return []byte("null"), nil
	}
	all := []T{}
	if err := l.All(func(x T) error { all = append(all, x); return nil }); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as WriteJSON: the encoder calling this escapes if it wants to
	if err := enc.Encode(all); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads a list written by MarshalJSON or WriteJSON (all of
// it, into Top): for programs and tests reading plan.json back.
func (l *List[T]) UnmarshalJSON(b []byte) error {
	var all []T
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	*l = List[T]{Top: all, Len: int64(len(all))}
	return nil
}

// Each is All for jsonx.WriteIndented, which streams the list.
func (l List[T]) Each(fn func(any) error) error {
	return l.All(func(x T) error { return fn(x) })
}

// Workspace is one workspace's folder tree as it will look.
type Workspace struct {
	Name      string   `json:"name"`
	Documents int64    `json:"documents"`
	Versions  int64    `json:"versions"`
	Folders   []Folder `json:"folders"` // depth-first, parents before children, by path
}

// Folder is one folder of a workspace tree.
type Folder struct {
	Path      string `json:"path"` // "" is the workspace root
	Depth     int    `json:"depth"`
	Documents int64  `json:"documents"` // directly in this folder
	Total     int64  `json:"total"`     // including sub-folders
	New       int64  `json:"new"`       // documents of this folder new in this run
}

// Document changes in this run.
const (
	ChangeNew       = "new"       // every version first seen in this run
	ChangeUpdated   = "updated"   // some versions or copies first seen in this run
	ChangeUnchanged = "unchanged" // nothing new in this run
)

// Document is one reconstructed document.
type Document struct {
	ID        string    `json:"id"`
	Workspace string    `json:"workspace"`
	Folder    string    `json:"folder"`
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	Change    string    `json:"change"`
	Copies    int       `json:"copies"` // sightings of all versions
	Sources   []string  `json:"sources"`
	Heads     int       `json:"heads"` // versions nothing descends from; 2+ is a conflict
	Forks     int       `json:"forks"` // versions with 2+ children
	Versions  []Version `json:"versions"`
	LatestAt  time.Time `json:"latest_time,omitzero"`
	LatestBy  string    `json:"latest_author,omitempty"`
	TotalSize int64     `json:"size"` // of the latest version
}

// Version is one version of a document.
type Version struct {
	ID      string    `json:"id"`
	Seq     int       `json:"seq"` // 1 = oldest
	SHA256  string    `json:"sha256"`
	Size    int64     `json:"size"`
	Time    time.Time `json:"time,omitzero"`
	Author  string    `json:"author,omitempty"`
	New     bool      `json:"new"` // first seen in this run
	Parents []Link    `json:"parents"`
	Seen    []Place   `json:"seen"`
}

// Link is why a version descends from another.
type Link struct {
	Parent     string  `json:"parent"`     // version id
	ParentSeq  int     `json:"parent_seq"` // its seq
	Reason     string  `json:"reason"`     // history.Reason* constant
	Why        string  `json:"why"`        // the reason in plain words
	Confidence float64 `json:"confidence"`
}

// Place is where one copy of a version was seen.
type Place struct {
	Source string    `json:"source"`
	Kind   string    `json:"kind"` // mail | share | sharepoint
	Ref    string    `json:"ref"`
	Name   string    `json:"name"`
	Where  string    `json:"where"` // one line, for people
	Time   time.Time `json:"time,omitzero"`
	Author string    `json:"author,omitempty"`
	New    bool      `json:"new"` // first seen in this run
	// Gone: when syncd saw this copy no longer at its source (the store
	// keeps it); zero while it is there.
	Gone time.Time `json:"gone,omitzero"`
	// mail
	Mailbox   string `json:"mailbox,omitempty"`
	Subject   string `json:"subject,omitempty"`
	From      string `json:"from,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	// share
	Path string `json:"path,omitempty"`
	// sharepoint
	Site      string `json:"site,omitempty"`
	Library   string `json:"library,omitempty"`
	ItemID    string `json:"item_id,omitempty"`
	VersionID string `json:"version_id,omitempty"`
}

// Fork is a version edited twice in parallel (two or more children).
type Fork struct {
	Document string `json:"document"` // document id
	Path     string `json:"path"`
	Version  string `json:"version"`
	Seq      int    `json:"seq"`
	Children []int  `json:"children"` // seqs
}

// Conflict is a document with more than one latest version: a person has
// to say which is current (or merge them).
type Conflict struct {
	Document string `json:"document"`
	Path     string `json:"path"`
	Heads    []Head `json:"heads"`
}

// Head is one of a conflict's latest versions.
type Head struct {
	Seq    int       `json:"seq"`
	Time   time.Time `json:"time,omitzero"`
	Author string    `json:"author,omitempty"`
	Where  string    `json:"where"`
}

// DupGroup is one content found in several places.
type DupGroup struct {
	SHA256     string  `json:"sha256"`
	Size       int64   `json:"size"`
	Copies     int     `json:"copies"`
	SavedBytes int64   `json:"saved_bytes"` // size * (copies - 1)
	Places     []Place `json:"places"`
}

// ReasonGroup lists the items skipped or unreadable for one reason.
type ReasonGroup struct {
	Reason string          `json:"reason"`
	Why    string          `json:"why"` // plain words
	Count  int             `json:"count"`
	Items  List[NamedItem] `json:"items"` // Top: the first the page shows
}

// NamedItem is an item as a person would recognise it.
type NamedItem struct {
	Source string `json:"source"`
	Ref    string `json:"ref"`
	Name   string `json:"name"`
	Size   int64  `json:"size"` // -1 when unknown
	Detail string `json:"detail,omitempty"`
}

// Estimate is the migration's size. Its duration is in Volatile, as it
// comes from measured rates.
type Estimate struct {
	BytesToRead  int64 `json:"bytes_to_read"`  // content a sync downloads (upper bound)
	BytesToStore int64 `json:"bytes_to_store"` // new content written to the store
	ItemsToRead  int64 `json:"items_to_read"`
	NewContents  int64 `json:"new_contents"`
}

// Item is one row of items.csv: what happens to one item.
type Item struct {
	Source    string `json:"source"`
	Ref       string `json:"ref"`
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	Action    string `json:"action"` // new | duplicate | skip | problem
	Workspace string `json:"workspace,omitempty"`
	Document  string `json:"document,omitempty"`    // document path
	DocID     string `json:"document_id,omitempty"` // document id
	Version   int    `json:"version,omitempty"`     // version seq
	Reason    string `json:"reason,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	detail    string // error text of a problem
}

// Volatile is what changes from one run to the next over the same data.
type Volatile struct {
	Runs []RunInfo `json:"runs"`
	// Measured from the runs: bytes fetched over elapsed time.
	MeasuredBytesPerSecond float64 `json:"measured_bytes_per_second,omitempty"`
	EstimatedSeconds       float64 `json:"estimated_seconds,omitempty"`
	// Basis says how the estimate was made, in plain words.
	Basis string `json:"basis"`
}

// RunInfo identifies one run the report covers.
type RunInfo struct {
	ID           int64     `json:"id"`
	Job          string    `json:"job"`
	Mode         string    `json:"mode"`
	Status       string    `json:"status"`
	Started      time.Time `json:"started,omitzero"`
	Finished     time.Time `json:"finished,omitzero"`
	BytesFetched int64     `json:"bytes_fetched"`
}

// WithoutVolatile returns a shallow copy of r without its Volatile part:
// what two plans of the same sources and store agree on byte for byte.
func (r *Report) WithoutVolatile() *Report {
	c := *r
	c.Volatile = Volatile{Runs: []RunInfo{}}
	return &c
}
