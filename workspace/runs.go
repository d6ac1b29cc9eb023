package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Run is one execution of a job.
type Run struct {
	ID       int64     `json:"id"`
	Job      string    `json:"job"`
	Mode     string    `json:"mode"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Status   string    `json:"status"`
	Counts   Counts    `json:"counts"`
	Error    string    `json:"error,omitempty"`
	// Holder is the process that started the run (host:pid).
	Holder string `json:"holder,omitempty"`
}

// Run statuses.
const (
	StatusRunning     = "running"
	StatusOK          = "ok"
	StatusProblems    = "problems"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
)

// StartRun records the start of a run. Runs left "running" by a crashed
// process are marked interrupted first.
func (c *Catalog) StartRun(ctx context.Context, job, mode string) (int64, error) {
	now := c.stamp()
	if _, err := c.db.ExecContext(ctx, `UPDATE runs SET status = ?, finished = ? WHERE job = ? AND status = ?`, StatusInterrupted, now, job, StatusRunning); err != nil {
		return 0, fmt.Errorf("catalog: start run %s: %w", job, err)
	}
	var id int64
	err := c.db.QueryRowContext(ctx, `INSERT INTO runs (job, mode, started, status) VALUES (?, ?, ?, ?) RETURNING id`, job, mode, now, StatusRunning).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("catalog: start run %s: %w", job, err)
	}
	if err == nil {
		err = c.Audit(ctx, "syncd", "run.start", job, fmt.Sprintf("run %d (%s)", id, mode))
	}
	return id, err
}

// FinishRun records a run's end.
func (c *Catalog) FinishRun(ctx context.Context, id int64, status string, counts Counts, runErr string) error {
	cj, _ := json.Marshal(counts)
	if _, err := c.db.ExecContext(ctx, `UPDATE runs SET finished = ?, status = ?, counts = ?, error = ? WHERE id = ?`, c.stamp(), status, string(cj), runErr, id); err != nil {
		return fmt.Errorf("catalog: finish run %d: %w", id, err)
	}
	return c.Audit(ctx, "syncd", "run.finish", fmt.Sprint(id), status)
}

// Runs lists runs, newest first; job "" means all; limit <= 0 means 50.
func (c *Catalog) Runs(ctx context.Context, job string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := c.db.QueryContext(ctx, `SELECT id, job, mode, started, finished, status, counts, error, holder FROM runs WHERE (? = '' OR job = ?) ORDER BY id DESC LIMIT ?`, job, job, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetRun returns one run.
func (c *Catalog) GetRun(ctx context.Context, id int64) (Run, error) {
	row := c.db.QueryRowContext(ctx, `SELECT id, job, mode, started, finished, status, counts, error, holder FROM runs WHERE id = ?`, id)
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return r, err
}

type scanner interface{ Scan(...any) error }

func scanRun(s scanner) (Run, error) {
	var r Run
	var started, finished, counts string
	if err := s.Scan(&r.ID, &r.Job, &r.Mode, &started, &finished, &r.Status, &counts, &r.Error, &r.Holder); err != nil {
		return r, err
	}
	r.Started, r.Finished = parseTime(started), parseTime(finished)
	_ = json.Unmarshal([]byte(counts), &r.Counts)
	return r, nil
}

// itemOrder is the column run_items keep their insertion order in: an
// identity column on PostgreSQL, the rowid on SQLite.
func (c *Catalog) itemOrder() string {
	if c.pg {
		return `id`
	}
	return `rowid`
}

// RunItems lists what a run did with the items it did not already know.
func (c *Catalog) RunItems(ctx context.Context, runID int64) ([]RunItem, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT source, ref, name, size, action, reason, blob_id, detail FROM run_items WHERE run_id = ? ORDER BY `+c.itemOrder(), runID)
	if err != nil {
		return nil, fmt.Errorf("catalog: run items %d: %w", runID, err)
	}
	defer rows.Close()
	var out []RunItem
	for rows.Next() {
		var it RunItem
		var blob string
		if err := rows.Scan(&it.Source, &it.Ref, &it.Name, &it.Size, &it.Action, &it.Reason, &blob, &it.Detail); err != nil {
			return nil, err
		}
		if blob != "" {
			_ = it.Blob.UnmarshalText([]byte(blob))
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Audit appends to the audit log.
func (c *Catalog) Audit(ctx context.Context, actor, action, subject, detail string) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO audit (time, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)`, c.stamp(), actor, action, subject, detail)
	if err != nil {
		return fmt.Errorf("catalog: audit %s: %w", action, err)
	}
	return nil
}

// AuditEntry is one audit log line.
type AuditEntry struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
	Detail  string    `json:"detail"`
	// Workspace and Document: what the entry is about, when it is about
	// a workspace's document ("" otherwise).
	Workspace string `json:"workspace,omitempty"`
	Document  string `json:"document,omitempty"`
}

// AuditAt appends an entry about a workspace and, if document is not
// "", one of its documents.
func (c *Catalog) AuditAt(ctx context.Context, e AuditEntry) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO audit (time, actor, action, subject, detail, workspace, document) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.stamp(), e.Actor, e.Action, e.Subject, e.Detail, e.Workspace, e.Document)
	if err != nil {
		return fmt.Errorf("catalog: audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditOf calls fn for the entries about a workspace (document "") or
// one document, newest first, those with an id below before (0: from the
// newest), at most limit (0: all), through the audit_workspace and
// audit_document indexes.
func (c *Catalog) AuditOf(ctx context.Context, workspace, document string, before int64, limit int, fn func(AuditEntry) error) error {
	q, key := qAuditOfWorkspace, workspace
	if document != "" {
		q, key = qAuditOfDocument, document
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	if limit <= 0 {
		limit = -1 // no limit, on both databases
	}
	if c.pg && limit < 0 {
		q = strings.Replace(q, "LIMIT ?", "LIMIT ALL", 1)
		rows, err := c.db.QueryContext(ctx, q, key, before)
		return scanAudit(rows, err, fn)
	}
	rows, err := c.db.QueryContext(ctx, q, key, before, limit)
	return scanAudit(rows, err, fn)
}

const (
	qAuditOfWorkspace = `SELECT id, time, actor, action, subject, detail, workspace, document FROM audit WHERE workspace = ? AND id < ? ORDER BY id DESC LIMIT ?`
	qAuditOfDocument  = `SELECT id, time, actor, action, subject, detail, workspace, document FROM audit WHERE document = ? AND id < ? ORDER BY id DESC LIMIT ?`
)

func scanAudit(rows *sql.Rows, err error, fn func(AuditEntry) error) error {
	if err != nil {
		return fmt.Errorf("catalog: audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var t string
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.Workspace, &e.Document); err != nil {
			return fmt.Errorf("catalog: audit log: %w", err)
		}
		e.Time = parseTime(t)
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuditLog returns the newest entries first.
func (c *Catalog) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, time, actor, action, subject, detail, workspace, document FROM audit ORDER BY id DESC LIMIT ?`, limit)
	var out []AuditEntry
	err = scanAudit(rows, err, func(e AuditEntry) error { out = append(out, e); return nil })
	return out, err
}

// Lock takes a named lock until expires, for holder. It succeeds if the
// lock is free, expired or already held by holder.
func (c *Catalog) Lock(ctx context.Context, name, holder string, ttl time.Duration) error {
	now := c.now()
	res, err := c.db.ExecContext(ctx, `INSERT INTO locks (name, holder, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE locks.holder = excluded.holder OR locks.expires < ?`, name, holder, formatTime(now.Add(ttl)), formatTime(now))
	if err != nil {
		return fmt.Errorf("catalog: lock %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var h, exp string
		_ = c.db.QueryRowContext(ctx, `SELECT holder, expires FROM locks WHERE name = ?`, name).Scan(&h, &exp)
		return fmt.Errorf("%w: %s is held by %s until %s", ErrLocked, name, h, exp)
	}
	return nil
}

// Unlock releases a lock held by holder.
func (c *Catalog) Unlock(ctx context.Context, name, holder string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND holder = ?`, name, holder)
	return err
}

// LockHolder returns who holds a lock ("" if nobody).
func (c *Catalog) LockHolder(ctx context.Context, name string) (string, error) {
	var h string
	err := c.db.QueryRowContext(ctx, `SELECT holder FROM locks WHERE name = ?`, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return h, err
}

// StealLock takes a lock from a holder known to be dead. It fails if the
// lock changed hands meanwhile.
func (c *Catalog) StealLock(ctx context.Context, name, dead, holder string, ttl time.Duration) error {
	res, err := c.db.ExecContext(ctx, `UPDATE locks SET holder = ?, expires = ? WHERE name = ? AND holder = ?`,
		holder, formatTime(c.now().Add(ttl)), name, dead)
	if err != nil {
		return fmt.Errorf("catalog: lock %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s changed hands", ErrLocked, name)
	}
	return c.Audit(ctx, holder, "lock.steal", name, "from dead process "+dead)
}

// LockInfo is one held lock.
type LockInfo struct {
	Name    string
	Holder  string
	Expires time.Time
}

// Locks lists the locks whose names start with prefix, in name order.
func (c *Catalog) Locks(ctx context.Context, prefix string) ([]LockInfo, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, holder, expires FROM locks WHERE substr(name, 1, ?) = ? ORDER BY name`, len(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("catalog: locks: %w", err)
	}
	defer rows.Close()
	var out []LockInfo
	for rows.Next() {
		var l LockInfo
		var exp string
		if err := rows.Scan(&l.Name, &l.Holder, &exp); err != nil {
			return nil, err
		}
		l.Expires = parseTime(exp)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Now is the catalog's clock (the one lock expiry is measured with).
func (c *Catalog) Now() time.Time { return c.now() }
