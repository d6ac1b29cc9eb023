// Package history rebuilds the version history of documents from the
// scattered copies (sightings) that connectors find: mail attachments, share
// files and SharePoint versions. It is pure logic: no I/O, no clock, no
// randomness. Rebuild is deterministic: the same input in any order gives the
// same result.
package history

import (
	"time"

	"github.com/syncd/syncd/connectors"
)

// Sighting is one place where one blob was seen.
type Sighting struct {
	ID        int64     // catalog id, stable across runs (ingest order)
	Source    string    // source name from config ("finance-mail")
	Kind      string    // "mail" | "share" | "sharepoint" (= Lineage.Kind)
	Blob      string    // lowercase hex sha256 of the content
	Size      int64     // bytes
	Name      string    // decoded name as seen ("Business Case v2 FINAL (1).docx")
	Path      string    // folder path within the source, or the mailbox
	Time      time.Time // item time: mail Date, file modtime, version time
	Author    string    // email address where known
	Workspace string    // decided by routing; a document never spans workspaces
	Lineage   connectors.Lineage
	Gone      time.Time // when syncd saw the copy gone from its source (zero: still there); display only
}

// Content is what textsketch extracted from one blob.
type Content struct {
	Blob   string   // lowercase hex sha256
	Sketch []uint64 // MinHash signature over word shingles; nil when no text
	Tokens int      // number of words extracted
	Kind   string   // "docx", "xlsx", "pptx", "odt", "pdf", "txt", "csv", "" (unknown)
	// Modified and Revision are the document's own record of its last
	// save (OOXML docProps/core.xml dcterms:modified and cp:revision, ODF
	// meta.xml dc:date and meta:editing-cycles); zero when unknown.
	Modified time.Time
	Revision int
}

// Pin kinds: corrections made by people. Rebuild always respects them.
const (
	PinMerge  = "merge"  // the documents holding Blob and each of Blobs are one document
	PinSplit  = "split"  // Blob and Blobs leave their document(s) and form a document of their own
	PinRelink = "relink" // the version holding Blob has exactly Blobs as parents (empty: a root)
)

// Pin is a correction by a person. Pins refer to versions by content (blob
// sha256), which is stable across rebuilds; later pins (higher ID) win over
// earlier ones where they conflict.
type Pin struct {
	ID     int64  // store id; pins apply in ID order
	Kind   string // PinMerge | PinSplit | PinRelink
	Blob   string // the version the pin is about
	Blobs  []string
	Author string // who pinned it (for the audit log; not used by Rebuild)
	Note   string
}

// Input is everything Rebuild looks at.
type Input struct {
	Sightings []Sighting
	Contents  map[string]Content // by blob; missing entries mean "no text known"
	Pins      []Pin
	// Oversized are the evidence keys (keys.go) that are no evidence:
	// carried by more than the cap of nodes in the whole catalog. nil: a
	// rebuild of the whole catalog, which counts them itself with KeyCap.
	Oversized map[uint64]bool
	// Hubs are the nodes (workspace + "\x00" + blob) whose place keys
	// are no evidence: they carry more than the cap of them in the whole
	// catalog. Read only when Oversized is not nil.
	Hubs   map[string]bool
	KeyCap int // 0: DefaultKeyCap; used only when Oversized is nil
}

// Result is the rebuilt catalog of documents.
type Result struct {
	Documents []Document // sorted by Workspace, then Key
}

// Document is one document with its version DAG.
type Document struct {
	Key       string // stable, deterministic id ("d-" + 16 hex)
	Workspace string
	Folder    string    // folder of the latest version's best sighting
	Name      string    // display name, from the latest version
	Versions  []Version // sorted by Seq
}

// Version is one state of a document's bytes. A revert (a later version
// byte-identical to an earlier one) is a separate Version with the same Blob.
type Version struct {
	Key       string // unique within the result ("v-" + 16 hex [+ "-rN"])
	Blob      string
	Size      int64
	Seq       int // 1 = oldest
	Time      time.Time
	Author    string
	Parents   []Link
	Sightings []int64 // sighting ids, ascending
}

// Link is one parent edge with the evidence for it.
type Link struct {
	Parent     string  // version key
	Reason     string  // Reason* constant, e.g. "sharepoint-version", "mail-reply"
	Confidence float64 // 0..1
}

// Reasons recorded on links.
const (
	ReasonSharePoint = "sharepoint-version" // consecutive versions of one SharePoint item
	ReasonMailReply  = "mail-reply"         // attachment of a reply descends from the parent message's attachment
	ReasonMailFwd    = "mail-forward"       // forwarded message carries the version onward
	ReasonName       = "name-family"        // same normalised name, ordered by time
	ReasonContent    = "content-similar"    // MinHash similarity of extracted text
	ReasonFolder     = "folder-colocated"   // version-named files in one folder
	ReasonPinned     = "pinned"             // a person said so
	ReasonRevert     = "revert"             // a later sighting of an earlier version's bytes
)

// Sighting kinds (= connectors.Lineage.Kind).
const (
	KindMail       = "mail"
	KindShare      = "share"
	KindSharePoint = "sharepoint"
)
