// Package connectors defines the contract between syncd's engine and the
// places documents live: mailboxes, SharePoint libraries, file shares.
//
// A connector lists items (metadata only) and opens them (bytes) on demand.
// It never imports the engine or the store; the engine drives it.
package connectors

import (
	"context"
	"errors"
	"io"
	"time"
)

// Ref identifies one item within one source, stably across runs. For a
// mailbox it names account, mailbox, UIDVALIDITY, UID and part path; for a
// share the path; for SharePoint the drive, item and version. Refs are
// opaque to the engine, which only compares them and hands them back to Open.
type Ref string

// Cursor is a source's opaque position, produced by Scan and handed back on
// the next Scan. A nil Cursor means "from the beginning".
type Cursor []byte

// Source is one configured place to pull documents from.
//
// Contract (enforced by connectortest):
//   - Scan(ctx, nil, sink) lists every item. Scan(ctx, c, sink) with the
//     cursor returned (or checkpointed) by an earlier scan lists at least every
//     item that is new or changed since c; it may repeat items (the engine
//     skips known sightings), it must not miss any.
//   - Scan emits metadata only; it never downloads content it does not need
//     to decide what an item is.
//   - Scan calls sink.Checkpoint(c) at safe points: every item emitted before
//     the call is covered by c. The engine commits c with those items' records
//     in one transaction, so a crash resumes from the last checkpoint.
//   - The returned Cursor covers everything emitted; it is committed last.
//   - A problem with one item (unparseable message, permission denied) is
//     reported with sink.Problem and the scan goes on. Scan returns an error
//     only when the source as a whole cannot go on; the error names the source
//     and the operation.
//   - Scan returns ctx.Err() promptly when ctx is cancelled.
//   - Open may be called from inside sink callbacks and from other
//     goroutines while Scan runs; it returns exactly the item's bytes (Size
//     of them when Size >= 0). Errors name the item.
//   - Close releases connections; the Source is not used afterwards.
type Source interface {
	Name() string
	Kind() string
	Scan(ctx context.Context, cur Cursor, sink Sink) (Cursor, error)
	Open(ctx context.Context, it *Item) (io.ReadCloser, error)
	Close() error
}

// Retrier is implemented by sources that can list given items again by
// their Ref, whatever the cursor says. The engine keeps a persistent list
// of items that failed (a dropped connection, a throttled download, a part
// it could not read, content found damaged in the store) and, at the start
// of every run, hands their refs to Retry before the scan, so a committed
// cursor never leaves an item behind.
//
// Retry reports, for every ref, either the item again through sink.Item (a
// connector may report more than was asked, such as every part of a
// message; the engine skips what it already holds), or sink.Problem with
// that Ref (wrapping ErrNotFound when the item is gone at the source). It
// never calls sink.Checkpoint. It returns an error only when the source as
// a whole cannot be reached; the refs then stay on the list.
type Retrier interface {
	Retry(ctx context.Context, refs []Ref, sink Sink) error
}

// Partitioner is implemented by sources whose work splits into parts
// that can be scanned independently, each with a cursor of its own: an
// account's mailboxes, a share's top-level folders, a site's libraries.
// The engine then hands parts to different workers (a source's
// `partition: true`), so one huge account does not pin one worker.
//
// Contract (enforced by connectortest):
//   - Parts lists the parts as they are now, sorted, without repeats.
//   - ScanPart is Scan limited to one part, with that part's cursor: the
//     items of ScanPart over every listed part (from nil cursors) are the
//     items of Scan(nil), each in exactly one part.
//   - ScanPart of a part no longer listed (its cursor from an earlier
//     ScanPart) reports gone everything its cursor covered and returns an
//     error only when the source cannot be reached; from a nil cursor it
//     reports nothing.
//   - Retry is not split: the engine drains a source's retry list once
//     per run, before its parts are scanned.
type Partitioner interface {
	Parts(ctx context.Context) ([]string, error)
	ScanPart(ctx context.Context, part string, cur Cursor, sink Sink) (Cursor, error)
}

// RootPart is the part of the files at the top of a tree-shaped source
// (a share, a folder), beside its top-level folders, which are parts of
// their own.
const RootPart = "."

// Sink receives what a scan finds.
type Sink interface {
	// Item reports one item. Items with a Skip reason are recorded but never
	// opened. Returning an error stops the scan (the scan returns it).
	Item(ctx context.Context, it *Item) error
	// Problem reports an item that could not be read or understood. The
	// scan goes on.
	Problem(ctx context.Context, p Problem) error
	// Checkpoint marks c as covering every item reported so far.
	Checkpoint(ctx context.Context, c Cursor) error
	// Gone reports items that are no longer at the source (expunged,
	// deleted, moved out of the configured scope). Like Item, it is
	// covered by the next checkpoint. The store keeps every version it
	// holds; it records when the copy was seen gone.
	Gone(ctx context.Context, g Gone) error
}

// Concurrent is a Source that says how many items it serves at once to
// best effect (a remote share: 8 files open at once). A job that does not
// set its concurrency fetches that many of its items at once.
type Concurrent interface {
	Transfers() int
}

// Wanter is a Sink that can say, before an item is reported, whether it
// will Open it (it is not skipped, not a copy already known by its ref
// or its hashes). A source whose round trips cost more than its bytes
// (IMAP across a WAN) then fetches the contents of many small wanted
// items in one command and hands them over with the items, so that Open
// needs no round trip. Wants has no effect: the item is still reported
// with Item, which decides again.
type Wanter interface {
	Wants(ctx context.Context, it *Item) (bool, error)
}

// Gone names what left the source: one item (Ref exactly) or, with Under,
// a container of items (a message and its parts, a mailbox generation,
// a SharePoint item and its versions): every item whose Ref is Ref or
// starts with Ref + "/". Within one scan a connector reports a ref either
// present or gone, not both.
type Gone struct {
	Ref   Ref
	Under bool
	Name  string // as a person would recognise it ("INBOX uid 42", "Finance/Q3.xlsx")
	// Why: "deleted" (share file or SharePoint item), "expunged" (message),
	// "out-of-scope" (moved out of the configured folders or mailboxes),
	// "uidvalidity" (the mailbox was recreated: every old UID is void),
	// "mailbox-gone" (deleted, renamed, or no longer selected).
	Why string
}

// Problem is a per-item failure: what, where, and why.
type Problem struct {
	Ref  Ref
	Name string // the item as a person would recognise it ("INBOX uid 42", "Finance/Q3.xlsx")
	Err  error
}

func (p Problem) Error() string {
	if p.Name != "" {
		return p.Name + ": " + p.Err.Error()
	}
	return string(p.Ref) + ": " + p.Err.Error()
}

// Item is everything the engine and history need to know about one copy of
// a file, without its bytes.
type Item struct {
	Ref  Ref
	Name string // decoded name as seen at the source (never used as a path)
	Path string // folder path within the source ("Finance/2024"), "/"-separated, or the mailbox
	Size int64  // -1 when unknown
	// Fingerprint changes whenever the content at Ref may have changed
	// (size+modtime, eTag, or "" for immutable refs such as IMAP UIDs).
	Fingerprint string
	ModTime     time.Time
	Author      string // email address where known
	MediaType   string
	// Hashes the source knows without reading content, by kind:
	// "sha256" (hex), "quickxor" (base64), "md5", "sha1" (hex), or a
	// connector-specific content key ("imap-part").
	Hashes map[string]string
	// Skip, when set, says why this item is not a document (signature
	// logo, calendar invite, size limit...). It is recorded, never opened.
	Skip    string
	Lineage Lineage
	// Private is connector state carried from Scan to Open (not stored).
	Private any `json:"-"`
}

// Lineage is the provenance that history rebuilding uses. Kind says which
// part is set: a connector fills its own kind's part and leaves the others
// zero. The parts are embedded, so their fields read as Lineage's own
// (l.MessageID) and are stored as one flat JSON object (the catalog's
// lineage column): see TestLineageJSON.
type Lineage struct {
	Kind string `json:"kind"` // "mail", "share", "sharepoint"
	MailLineage
	ShareLineage
	SharePointLineage
}

// MailLineage is where a mail attachment was seen and the message's
// thread.
type MailLineage struct {
	Account     string    `json:"account,omitempty"`
	Mailbox     string    `json:"mailbox,omitempty"`
	UIDValidity uint32    `json:"uidvalidity,omitempty"`
	UID         uint32    `json:"uid,omitempty"`
	Part        string    `json:"part,omitempty"`
	MessageID   string    `json:"message_id,omitempty"` // top-level message stored in the mailbox
	InReplyTo   []string  `json:"in_reply_to,omitempty"`
	References  []string  `json:"references,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	From        string    `json:"from,omitempty"`
	To          []string  `json:"to,omitempty"`
	Cc          []string  `json:"cc,omitempty"`
	Date        time.Time `json:"date,omitzero"` // the Date header (the sender's clock)
	// Arrived is the server's INTERNALDATE of this copy: when it was
	// delivered (or appended) here, by the server's clock. History weighs
	// it against Date, whose clock may lie.
	Arrived time.Time `json:"arrived,omitzero"`
	// Nested (message/rfc822) attachments: the chain of inner messages.
	InnerMessageIDs []string `json:"inner_message_ids,omitempty"`
	InnerSubject    string   `json:"inner_subject,omitempty"`
	// NameGenerated: the part carried no file name; Item.Name was made
	// up for display (from the subject and media type), not seen at the
	// source, whose name for it is "".
	NameGenerated bool `json:"name_generated,omitempty"`
}

// ShareLineage is the file share a file was seen on.
type ShareLineage struct {
	Remote string `json:"remote,omitempty"`
	Owner  string `json:"owner,omitempty"`
}

// SharePointLineage is the library item and version a SharePoint file
// was seen as.
type SharePointLineage struct {
	Site         string `json:"site,omitempty"`
	Drive        string `json:"drive,omitempty"`
	DriveName    string `json:"drive_name,omitempty"`
	ItemID       string `json:"item_id,omitempty"`
	VersionID    string `json:"version_id,omitempty"`
	VersionIndex int    `json:"version_index,omitempty"` // 1 = oldest version of the item
	Current      bool   `json:"current,omitempty"`
}

// Sentinel errors shared by connectors.
var (
	ErrNotFound    = errors.New("not found")
	ErrPermission  = errors.New("permission denied")
	ErrChanged     = errors.New("changed while reading")
	ErrUnsupported = errors.New("unsupported")
	// ErrMetadata marks a problem with an item's metadata only (an
	// unparseable timestamp): the item was reported all the same, so the
	// engine records the problem but neither retries the item nor holds
	// the cursor back for it.
	ErrMetadata = errors.New("unusable metadata")
)

// Retryable marks an error the engine may retry on the next run (throttling,
// dropped connections). Connectors wrap such errors with it.
type Retryable struct{ Err error }

func (r Retryable) Error() string { return r.Err.Error() }
func (r Retryable) Unwrap() error { return r.Err }

// IsRetryable reports whether err is, or wraps, a Retryable error.
func IsRetryable(err error) bool {
	var r Retryable
	return errors.As(err, &r)
}

// Remote-hash kinds used in Item.Hashes. The engine indexes sha256 and
// quickxor for every blob it stores, so an item carrying either is never
// downloaded when its content is already stored.
const (
	HashSHA256   = "sha256"
	HashQuickXor = "quickxor"
)
