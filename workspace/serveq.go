package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode"

	"github.com/syncd/syncd/dedupe"
)

// The reads behind `syncd serve`: a page at a time, through indexes.

// NameCount is a name and how many documents it holds.
type NameCount struct {
	Name string
	N    int
}

// WorkspaceCounts lists the workspaces that hold documents, sorted, with
// their document counts (the documents_place index, read once).
func (c *Catalog) WorkspaceCounts(ctx context.Context) ([]NameCount, error) {
	return c.nameCounts(ctx, "workspaces", `SELECT workspace, COUNT(*) FROM documents GROUP BY workspace ORDER BY workspace`)
}

// FolderCounts lists the folders of a workspace at or under folder (""
// for the whole workspace), sorted, with the documents each holds itself.
func (c *Catalog) FolderCounts(ctx context.Context, workspace, folder string) ([]NameCount, error) {
	if folder == "" {
		return c.nameCounts(ctx, "folders", `SELECT folder, COUNT(*) FROM documents WHERE workspace = ? GROUP BY folder ORDER BY folder`, workspace)
	}
	// folder itself, then everything after "folder/" and before "folder0"
	// ('0' is the byte after '/'): its subfolders, in order.
	return c.nameCounts(ctx, "folders", qFolderCountsUnder, workspace, folder, workspace, folder+"/", folder+"0")
}

// The statements a page runs, named for TestServeReadsUseIndexes.
const (
	qFolderCountsUnder = `SELECT folder, COUNT(*) FROM documents WHERE workspace = ? AND folder = ? GROUP BY folder
		UNION ALL SELECT folder, COUNT(*) FROM (SELECT folder FROM documents WHERE workspace = ? AND folder > ? AND folder < ?) GROUP BY folder ORDER BY 1`
	qDocsInFolder = `SELECT d.key, d.workspace, d.folder, d.name,
		(SELECT COUNT(*) FROM versions v WHERE v.document_key = d.key)
		FROM documents d WHERE d.workspace = ? AND d.folder = ? AND (d.name > ? OR (d.name = ? AND d.key > ?))
		ORDER BY d.name, d.key LIMIT ?`
	qVersionsOfBlob = `SELECT document_key, key FROM versions WHERE blob_id = ? ORDER BY document_key, key`
	qBlobKnown      = `SELECT 1 FROM blobs WHERE id = ?`
	qBlobSize       = `SELECT size FROM blobs WHERE id = ?`
)

func (c *Catalog) nameCounts(ctx context.Context, what, q string, args ...any) ([]NameCount, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", what, err)
	}
	defer rows.Close()
	var out []NameCount
	for rows.Next() {
		var nc NameCount
		if err := rows.Scan(&nc.Name, &nc.N); err != nil {
			return nil, fmt.Errorf("catalog: %s: %w", what, err)
		}
		out = append(out, nc)
	}
	return out, rows.Err()
}

// DocSummary is a document in a listing.
type DocSummary struct {
	Key       string
	Workspace string
	Folder    string
	Name      string
	Versions  int
}

// DocumentsInFolder lists a folder's documents by name (then key), the
// first limit after (afterName, afterKey): the next page starts after the
// last row of this one.
func (c *Catalog) DocumentsInFolder(ctx context.Context, workspace, folder, afterName, afterKey string, limit int) ([]DocSummary, error) {
	return c.docSummaries(ctx, "documents of a folder", qDocsInFolder, workspace, folder, afterName, afterName, afterKey, limit)
}

// Search is what a search asks for: documents of Workspaces whose name
// holds Text or whose text has all of Text's words, narrowed by the
// filters that are set.
type Search struct {
	Workspaces []string
	Text       string
	Kind       string // a sighting's kind: mail, share, sharepoint
	Sender     string // part of a sighting's author (a mail's sender)
	From, To   string // a version dated from From through To (YYYY-MM-DD)
	Limit      int
}

// Search finds documents by name and text, by name then key. Text is
// matched as words (never as the index's query syntax): FTS5 over
// blob_texts on SQLite, a 'simple' tsvector on PostgreSQL.
func (c *Catalog) Search(ctx context.Context, q Search) ([]DocSummary, error) {
	if len(q.Workspaces) == 0 {
		return nil, nil
	}
	// On SQLite, names and texts are two queries, each read the fastest
	// way, merged here: one query with "name LIKE ... OR key IN (text
	// matches)" tests the text list against every name of the workspace
	// (twice the time of the name test alone), and a text search cannot
	// start from the text index.
	var filters []string
	var fargs []any
	sighted := func(cond string, arg any) {
		filters = append(filters, `EXISTS (SELECT 1 FROM version_sightings vs JOIN sightings s ON s.id = vs.sighting_id WHERE vs.document_key = d.key AND `+cond+`)`)
		fargs = append(fargs, arg)
	}
	if q.Kind != "" {
		sighted(`s.kind = ?`, q.Kind)
	}
	if q.Sender != "" {
		sighted(`LOWER(s.author) LIKE ? ESCAPE '\'`, "%"+likeEscape(strings.ToLower(q.Sender))+"%")
	}
	if q.From != "" || q.To != "" {
		from, to := q.From, q.To
		if to == "" {
			to = "9999-12-31"
		}
		// Times are stored as RFC 3339 UTC text: the day is its prefix,
		// and "YYYY-MM-DD~" sorts after every time of that day.
		filters = append(filters, `EXISTS (SELECT 1 FROM versions v WHERE v.document_key = d.key AND v.time >= ? AND v.time <= ?)`)
		fargs = append(fargs, from, to+"~")
	}
	// run is one query: the workspaces (ws, a column reference), cond
	// and its args, the filters.
	run := func(ws, cond string, cargs ...any) ([]DocSummary, error) {
		where := []string{ws + ` IN (` + placeholders(len(q.Workspaces)) + `)`}
		var args []any
		for _, w := range q.Workspaces {
			args = append(args, w)
		}
		if cond != "" {
			where = append(where, cond)
			args = append(args, cargs...)
		}
		where = append(where, filters...)
		args = append(append(args, fargs...), q.Limit)
		stmt := `SELECT d.key, d.workspace, d.folder, d.name,
		(SELECT COUNT(*) FROM versions v WHERE v.document_key = d.key)
		FROM documents d WHERE ` + strings.Join(where, " AND ") + ` ORDER BY d.name, d.key LIMIT ?`
		if searchQuery != nil {
			searchQuery(stmt)
		}
		return c.docSummaries(ctx, "search", stmt, args...)
	}
	text := strings.TrimSpace(q.Text)
	if text == "" {
		return run("d.workspace", "")
	}
	// SQLite's LIKE ignores ASCII case already (as its LOWER does);
	// PostgreSQL's is ILIKE. No LOWER() per name: 5% of a search.
	like := `d.name LIKE ? ESCAPE '\'`
	if c.pg {
		like = `d.name ILIKE ? ESCAPE '\'`
	}
	words := searchWords(text)
	if c.pg {
		// PostgreSQL reads both halves in one query (a name order of its
		// collation, which Go cannot merge by).
		if len(words) > 0 {
			like += ` OR d.key IN (SELECT v.document_key FROM blob_texts t JOIN versions v ON v.blob_id = t.blob_id WHERE t.tsv @@ plainto_tsquery('simple', ?))`
		}
		args := []any{"%" + likeEscape(text) + "%"}
		if len(words) > 0 {
			args = append(args, strings.Join(words, " "))
		}
		return run("d.workspace", "("+like+")", args...)
	}
	byName, err := run("d.workspace", like, "%"+likeEscape(text)+"%")
	if err != nil || len(words) == 0 {
		return byName, err
	}
	// The text query starts from the text index: "+d.workspace" keeps
	// SQLite from walking documents_name in name order instead (testing
	// every name of the workspace against the list of matches).
	byText, err := run("+d.workspace", `d.key IN (SELECT v.document_key FROM blob_text_fts f JOIN blob_texts t ON t.rowid = f.rowid JOIN versions v ON v.blob_id = t.blob_id WHERE blob_text_fts MATCH ?)`, `"`+strings.Join(words, `" "`)+`"`)
	if err != nil {
		return nil, err
	}
	return mergeSummaries(byName, byText, q.Limit), nil
}

// mergeSummaries merges two lists in SQLite's (name, key) order (bytes,
// as Go compares strings), each document once, the first limit.
func mergeSummaries(a, b []DocSummary, limit int) []DocSummary {
	before := func(x, y DocSummary) bool { return x.Name < y.Name || x.Name == y.Name && x.Key < y.Key }
	out := make([]DocSummary, 0, min(limit, len(a)+len(b)))
	for len(out) < limit && (len(a) > 0 || len(b) > 0) {
		switch {
		case len(b) == 0 || len(a) > 0 && before(a[0], b[0]):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || before(b[0], a[0]):
			out, b = append(out, b[0]), b[1:]
		default: // the same document in both
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

// likeEscape escapes LIKE's wildcards (with ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// searchQuery, when set (by a test), hears each search's statement.
var searchQuery func(string)

// searchWords are the words of a search (runs of letters and digits,
// lower case), at most 16: what the text index matches.
func searchWords(s string) []string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return words[:min(len(words), 16)]
}

func (c *Catalog) docSummaries(ctx context.Context, what, q string, args ...any) ([]DocSummary, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", what, err)
	}
	defer rows.Close()
	var out []DocSummary
	for rows.Next() {
		var d DocSummary
		if err := rows.Scan(&d.Key, &d.Workspace, &d.Folder, &d.Name, &d.Versions); err != nil {
			return nil, fmt.Errorf("catalog: %s: %w", what, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// VersionRef names a version of a document.
type VersionRef struct {
	Document string
	Version  string
}

// VersionsOfBlob lists the versions whose content is blob, by document
// and version key (the versions_blob index).
func (c *Catalog) VersionsOfBlob(ctx context.Context, blob dedupe.ID) ([]VersionRef, error) {
	rows, err := c.db.QueryContext(ctx, qVersionsOfBlob, blob.String())
	if err != nil {
		return nil, fmt.Errorf("catalog: versions of %s: %w", blob.Short(), err)
	}
	defer rows.Close()
	var out []VersionRef
	for rows.Next() {
		var r VersionRef
		if err := rows.Scan(&r.Document, &r.Version); err != nil {
			return nil, fmt.Errorf("catalog: versions of %s: %w", blob.Short(), err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// BlobKnown says whether the catalog holds blob (as a content seen
// anywhere, in a document or not).
func (c *Catalog) BlobKnown(ctx context.Context, blob dedupe.ID) (bool, error) {
	var one int
	err := c.db.QueryRowContext(ctx, qBlobKnown, blob.String()).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("catalog: blob %s: %w", blob.Short(), err)
	}
	return true, nil
}

// BlobSize is blob's size in bytes as the catalog records it; ok is false
// when the catalog does not hold the blob.
func (c *Catalog) BlobSize(ctx context.Context, blob dedupe.ID) (size int64, ok bool, err error) {
	err = c.db.QueryRowContext(ctx, qBlobSize, blob.String()).Scan(&size)
	if err == sql.ErrNoRows {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("catalog: size of blob %s: %w", blob.Short(), err)
	}
	return size, true, nil
}
