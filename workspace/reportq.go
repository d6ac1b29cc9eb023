package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The report's queries over the items of a set of runs. Each streams its
// rows from one statement (sorted and grouped by SQLite, in its own
// temporary storage), so a report of a run of ten million items holds
// none of them.

// ReportRun is one run a report covers (runs are listed in report order).
type ReportRun struct {
	ID  int64
	Job string
}

// ReportItem is one run item as the report shows it.
type ReportItem struct {
	RunItem
	Job string // of the item's run
	// Sighted: the item made a sighting in its run (the last one, if
	// several), whose Kind and Workspace these are.
	Sighted         bool
	Kind, Workspace string
	// Place is where history put that sighting (Placed: it has one).
	Place  SightingPlace
	Placed bool
	// NewContent: an item of these runs stored its content for the first
	// time.
	NewContent bool
	// FirstSource and FirstName are the source and name of the first
	// item, in report order, among the runs' new and duplicate items
	// with this content; First says it is this one.
	FirstSource, FirstName string
	First                  bool
}

// SightingPlace is where history put a sighting: its document and the
// version's seq.
type SightingPlace struct {
	Document, Folder, Name string
	Seq                    int
}

// reportRuns is the VALUES list of the runs, as r(id, pos, job), and its
// arguments.
func reportRuns(runs []ReportRun) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 3*len(runs))
	b.WriteString("r(id, pos, job) AS (VALUES ")
	for i, r := range runs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS TEXT))")
		args = append(args, r.ID, i, r.Job)
	}
	b.WriteString(")")
	return b.String(), args
}

// reportOrder is the order items are listed in: by source, ref, name and
// size, then run and the order the run recorded them.
const reportOrder = `source, ref, name, size, pos, rid`

// ReportItems calls fn with every item the runs recorded, in report
// order. runs must not be empty.
func (c *Catalog) ReportItems(ctx context.Context, runs []ReportRun, fn func(ReportItem) error) error {
	with, args := reportRuns(runs)
	q := `WITH ` + with + `,
	it AS (
		SELECT i.` + c.itemOrder() + ` AS rid, r.pos, r.job, i.source, i.ref, i.name, i.size, i.action, i.reason, i.blob_id, i.detail,
			(SELECT s.id FROM sightings s WHERE s.source = i.source AND s.ref = i.ref AND s.run_id = i.run_id ORDER BY s.id DESC LIMIT 1) AS sid
		FROM run_items i JOIN r ON i.run_id = r.id),
	w AS (
		SELECT it.*,
			MAX(CASE WHEN action = 'new' THEN 1 ELSE 0 END) OVER (PARTITION BY blob_id) AS newblob,
			ROW_NUMBER() OVER content AS n,
			FIRST_VALUE(source) OVER content AS fsource,
			FIRST_VALUE(name) OVER content AS fname
		FROM it
		WINDOW content AS (PARTITION BY CASE WHEN action IN ('new', 'duplicate') THEN blob_id END ORDER BY ` + reportOrder + `))
	SELECT w.job, w.source, w.ref, w.name, w.size, w.action, w.reason, w.blob_id, w.detail, w.newblob, w.n, w.fsource, w.fname,
		s.id IS NOT NULL, COALESCE(s.kind, ''), COALESCE(s.workspace, ''), d.key, d.folder, d.name, v.seq
	FROM w LEFT JOIN sightings s ON s.id = w.sid
	LEFT JOIN version_sightings vs ON vs.sighting_id = w.sid
	LEFT JOIN documents d ON d.key = vs.document_key
	LEFT JOIN versions v ON v.document_key = vs.document_key AND v.key = vs.version_key
	ORDER BY w.source, w.ref, w.name, w.size, w.pos, w.rid`
	rows, err := c.reportQuery(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("catalog: report items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it ReportItem
		var blob string
		var newBlob, n int64
		var doc, folder, name sql.NullString
		var seq sql.NullInt64
		if err := rows.Scan(&it.Job, &it.Source, &it.Ref, &it.Name, &it.Size, &it.Action, &it.Reason, &blob, &it.Detail,
			&newBlob, &n, &it.FirstSource, &it.FirstName, &it.Sighted, &it.Kind, &it.Workspace, &doc, &folder, &name, &seq); err != nil {
			return fmt.Errorf("catalog: report items: %w", err)
		}
		if blob != "" {
			_ = it.Blob.UnmarshalText([]byte(blob))
		}
		it.NewContent, it.First = newBlob == 1, n == 1
		if doc.Valid && seq.Valid {
			it.Place, it.Placed = SightingPlace{Document: doc.String, Folder: folder.String, Name: name.String, Seq: int(seq.Int64)}, true
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: report items: %w", err)
	}
	return nil
}

// reportQuery runs one of the report's queries (tests hear it through
// onPrepare, to check its plan).
func (c *Catalog) reportQuery(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if onPrepare != nil {
		onPrepare(q)
	}
	return c.db.QueryContext(ctx, q, args...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ReasonCount is how many of the runs' items share an action and reason.
type ReasonCount struct {
	Action, Reason string
	Count          int64
}

// ReportReasons counts the runs' items of the given actions by action
// and reason.
func (c *Catalog) ReportReasons(ctx context.Context, runs []ReportRun, actions ...string) ([]ReasonCount, error) {
	with, args := reportRuns(runs)
	q := `WITH ` + with + ` SELECT i.action, i.reason, COUNT(*) FROM run_items i JOIN r ON i.run_id = r.id
		WHERE i.action IN (` + placeholders(len(actions)) + `) GROUP BY i.action, i.reason ORDER BY i.action, i.reason`
	for _, a := range actions {
		args = append(args, a)
	}
	rows, err := c.reportQuery(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: report reasons: %w", err)
	}
	defer rows.Close()
	var out []ReasonCount
	for rows.Next() {
		var rc ReasonCount
		if err := rows.Scan(&rc.Action, &rc.Reason, &rc.Count); err != nil {
			return nil, fmt.Errorf("catalog: report reasons: %w", err)
		}
		out = append(out, rc)
	}
	return out, rows.Err()
}

// ReportItemsFor calls fn with the runs' items of one action and reason,
// in report order, stopping after limit items (0: all of them).
func (c *Catalog) ReportItemsFor(ctx context.Context, runs []ReportRun, action, reason string, limit int, fn func(RunItem) error) error {
	with, args := reportRuns(runs)
	q := `WITH ` + with + `, it AS (SELECT i.` + c.itemOrder() + ` AS rid, r.pos, i.source, i.ref, i.name, i.size, i.detail
		FROM run_items i JOIN r ON i.run_id = r.id WHERE i.action = ? AND i.reason = ?)
		SELECT source, ref, name, size, detail FROM it ORDER BY ` + reportOrder
	args = append(args, action, reason)
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := c.reportQuery(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("catalog: report items %s %s: %w", action, reason, err)
	}
	defer rows.Close()
	for rows.Next() {
		it := RunItem{Action: action, Reason: reason}
		if err := rows.Scan(&it.Source, &it.Ref, &it.Name, &it.Size, &it.Detail); err != nil {
			return fmt.Errorf("catalog: report items %s %s: %w", action, reason, err)
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: report items %s %s: %w", action, reason, err)
	}
	return nil
}

// SourceContents is how many distinct contents one job's source gave in
// the runs' new and duplicate items.
type SourceContents struct {
	Job, Source string
	Contents    int64
}

// ReportContents counts the distinct contents of the runs' new and
// duplicate items, per job and source and in all.
func (c *Catalog) ReportContents(ctx context.Context, runs []ReportRun) ([]SourceContents, int64, error) {
	with, args := reportRuns(runs)
	rows, err := c.reportQuery(ctx, `WITH `+with+` SELECT r.job, i.source, COUNT(DISTINCT i.blob_id) FROM run_items i JOIN r ON i.run_id = r.id
		WHERE i.action IN ('new', 'duplicate') GROUP BY r.job, i.source`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: report contents: %w", err)
	}
	defer rows.Close()
	var out []SourceContents
	for rows.Next() {
		var sc SourceContents
		if err := rows.Scan(&sc.Job, &sc.Source, &sc.Contents); err != nil {
			return nil, 0, fmt.Errorf("catalog: report contents: %w", err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("catalog: report contents: %w", err)
	}
	var total int64
	q := `WITH ` + with + ` SELECT COUNT(DISTINCT i.blob_id) FROM run_items i JOIN r ON i.run_id = r.id WHERE i.action IN ('new', 'duplicate')`
	if onPrepare != nil {
		onPrepare(q)
	}
	err = c.db.QueryRowContext(ctx, q, args...).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: report contents: %w", err)
	}
	return out, total, nil
}

// DupContent is a content the runs touched that the store holds in two
// or more places.
type DupContent struct {
	Blob   string // hex sha256
	Size   int64  // of its first sighting
	Copies int64
}

// ReportDuplicates calls fn with each content of the runs' new and
// duplicate items that has two or more sightings, largest saving
// (size × (copies − 1)) first, then most copies, then by hash.
func (c *Catalog) ReportDuplicates(ctx context.Context, runs []ReportRun, fn func(DupContent) error) error {
	with, args := reportRuns(runs)
	q := `WITH ` + with + `,
	touched AS (SELECT DISTINCT i.blob_id FROM run_items i JOIN r ON i.run_id = r.id WHERE i.action IN ('new', 'duplicate')),
	g AS (SELECT t.blob_id,
			(SELECT s.size FROM sightings s WHERE s.blob_id = t.blob_id ORDER BY s.id LIMIT 1) AS size,
			(SELECT COUNT(*) FROM sightings s WHERE s.blob_id = t.blob_id) AS n
		FROM touched t)
	SELECT blob_id, size, n FROM g WHERE n >= 2 ORDER BY size * (n - 1) DESC, n DESC, blob_id`
	rows, err := c.reportQuery(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("catalog: report duplicates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d DupContent
		if err := rows.Scan(&d.Blob, &d.Size, &d.Copies); err != nil {
			return fmt.Errorf("catalog: report duplicates: %w", err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: report duplicates: %w", err)
	}
	return nil
}
