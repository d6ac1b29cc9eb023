package workspace

import (
	"context"
	"fmt"
)

// Retry is an item that a run could not store: it stays on the source's
// retry list, and every later run asks the source for it again (see
// connectors.Retrier), until a run stores it or the source says it is gone.
type Retry struct {
	Source   string `json:"source"`
	Ref      string `json:"ref"`
	Name     string `json:"name"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
	Attempts int64  `json:"attempts"`
	FirstRun int64  `json:"first_run"`
	LastRun  int64  `json:"last_run"`
}

// RetryKey names one entry of the retry list.
type RetryKey struct{ Source, Ref string }

// Retries lists a source's retry list in ref order.
func (c *Catalog) Retries(ctx context.Context, source string) ([]Retry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT source, ref, name, reason, detail, attempts, first_run, last_run FROM retries WHERE source = ? ORDER BY ref`, source)
	if err != nil {
		return nil, fmt.Errorf("catalog: retries of %s: %w", source, err)
	}
	defer rows.Close()
	var out []Retry
	for rows.Next() {
		var r Retry
		if err := rows.Scan(&r.Source, &r.Ref, &r.Name, &r.Reason, &r.Detail, &r.Attempts, &r.FirstRun, &r.LastRun); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PendingRetries counts the retry list of each of sources (all sources
// when none are named).
func (c *Catalog) PendingRetries(ctx context.Context, sources ...string) (map[string]int64, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT source, COUNT(*) FROM retries GROUP BY source ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("catalog: pending retries: %w", err)
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, s := range sources {
		want[s] = true
	}
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		if len(want) == 0 || want[s] {
			out[s] = n
		}
	}
	return out, rows.Err()
}

// putRetry adds an item to the retry list, or counts one more attempt.
func putRetry(ctx context.Context, tc *txStmts, runID int64, r Retry) error {
	_, err := tc.ExecContext(ctx, `INSERT INTO retries (source, ref, name, reason, detail, attempts, first_run, last_run) VALUES (?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (source, ref) DO UPDATE SET name = excluded.name, reason = excluded.reason, detail = excluded.detail,
		attempts = retries.attempts + 1, last_run = excluded.last_run`,
		r.Source, r.Ref, r.Name, r.Reason, r.Detail, runID, runID)
	if err != nil {
		return fmt.Errorf("catalog: retry %s %s: %w", r.Source, r.Ref, err)
	}
	return nil
}

func dropRetry(ctx context.Context, tc *txStmts, source, ref string) error {
	if _, err := tc.ExecContext(ctx, `DELETE FROM retries WHERE source = ? AND ref = ?`, source, ref); err != nil {
		return fmt.Errorf("catalog: retry %s %s: %w", source, ref, err)
	}
	return nil
}
