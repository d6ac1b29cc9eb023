package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Units of work. A run's sources are its units: the process that starts
// the run (and holds the job's lock) adds them; it and any other process
// joining the run claim them one at a time under a lease, renew the lease
// while they work and record each unit's outcome. A unit whose lease ran
// out, or whose holder died, is claimed again; its source resumes from the
// cursor it last committed.

// Unit states.
const (
	UnitTodo    = "todo"
	UnitRunning = "running"
	UnitDone    = "done"
)

// Unit is one unit of a run's work.
type Unit struct {
	Run     int64     `json:"run"`
	Job     string    `json:"job,omitempty"`
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Holder  string    `json:"holder,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Kind    string    `json:"kind,omitempty"`
	Counts  Counts    `json:"counts"`
	Error   string    `json:"error,omitempty"`
}

// StartRunBy records the start of a run by holder (see StartRun).
func (c *Catalog) StartRunBy(ctx context.Context, job, mode, holder string) (int64, error) {
	id, err := c.StartRun(ctx, job, mode)
	if err != nil || holder == "" {
		return id, err
	}
	if _, err := c.db.ExecContext(ctx, `UPDATE runs SET holder = ? WHERE id = ?`, holder, id); err != nil {
		return 0, fmt.Errorf("catalog: start run %s: %w", job, err)
	}
	return id, nil
}

// AddUnits adds the units of a run, to do (units it has are kept).
func (c *Catalog) AddUnits(ctx context.Context, run int64, names []string) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: run %d units: %w", run, err)
	}
	defer tx.Rollback()
	for _, n := range names {
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_units (run_id, name, state) VALUES (?, ?, ?) ON CONFLICT (run_id, name) DO NOTHING`, run, n, UnitTodo); err != nil {
			return fmt.Errorf("catalog: run %d unit %s: %w", run, n, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: run %d units: %w", run, err)
	}
	return nil
}

// OpenRun returns the newest run of job still running that holder started
// and that has units: the run a process joining holder's work helps.
func (c *Catalog) OpenRun(ctx context.Context, job, holder string) (int64, bool, error) {
	var id int64
	err := c.db.QueryRowContext(ctx, `SELECT r.id FROM runs r WHERE r.job = ? AND r.status = ? AND r.holder = ?
		AND EXISTS (SELECT 1 FROM run_units u WHERE u.run_id = r.id) ORDER BY r.id DESC LIMIT 1`, job, StatusRunning, holder).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("catalog: open run of %s: %w", job, err)
	}
	return id, true, nil
}

const unitCols = `u.run_id, r.job, u.name, u.state, u.holder, u.expires, u.kind, u.counts, u.error`

func scanUnits(rows *sql.Rows) ([]Unit, error) {
	defer rows.Close()
	var out []Unit
	for rows.Next() {
		var u Unit
		var exp, counts string
		if err := rows.Scan(&u.Run, &u.Job, &u.Name, &u.State, &u.Holder, &exp, &u.Kind, &counts, &u.Error); err != nil {
			return nil, err
		}
		u.Expires = parseTime(exp)
		if counts != "" {
			if err := json.Unmarshal([]byte(counts), &u.Counts); err != nil {
				return nil, fmt.Errorf("unit %s of run %d: counts: %w", u.Name, u.Run, err)
			}
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Units lists the units of a run, by name.
func (c *Catalog) Units(ctx context.Context, run int64) ([]Unit, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+unitCols+` FROM run_units u JOIN runs r ON r.id = u.run_id WHERE u.run_id = ? ORDER BY u.name`, run)
	if err != nil {
		return nil, fmt.Errorf("catalog: run %d units: %w", run, err)
	}
	us, err := scanUnits(rows)
	if err != nil {
		return nil, fmt.Errorf("catalog: run %d units: %w", run, err)
	}
	return us, nil
}

// unitsToDoQuery reads the first units of a run still to do, through the
// partial index run_units_todo (the state is spelled out for it).
const unitsToDoQuery = unitsToClaim + `u.state = '` + UnitTodo + `' ORDER BY u.name LIMIT ?`

// unitsToClaim is the start of UnitsToClaim's queries: a unit's row
// without its counts, of one run, where...
const unitsToClaim = `SELECT u.run_id, r.job, u.name, u.state, u.holder, u.expires, u.kind, '', u.error
	FROM run_units u JOIN runs r ON r.id = u.run_id WHERE u.run_id = ? AND `

// UnitsToClaim lists the units of a run not done yet, by name, without
// their counts (none has any yet): what a worker looking for work reads,
// so it must not grow with the units already done (a job of 1,000
// mailboxes claims 1,000 times). With todo > 0, only the first todo
// units still to do.
func (c *Catalog) UnitsToClaim(ctx context.Context, run int64, todo int) ([]Unit, error) {
	q := unitsToClaim + `u.state <> ? ORDER BY u.name`
	args := []any{run, UnitDone}
	if todo > 0 {
		q, args = unitsToDoQuery, []any{run, todo}
	}
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: run %d units to claim: %w", run, err)
	}
	us, err := scanUnits(rows)
	if err != nil {
		return nil, fmt.Errorf("catalog: run %d units to claim: %w", run, err)
	}
	return us, nil
}

// OpenUnits lists the units of every run still running, by run and name:
// who works on what, across all processes.
func (c *Catalog) OpenUnits(ctx context.Context) ([]Unit, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+unitCols+` FROM run_units u JOIN runs r ON r.id = u.run_id WHERE r.status = ? ORDER BY u.run_id, u.name`, StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("catalog: open units: %w", err)
	}
	us, err := scanUnits(rows)
	if err != nil {
		return nil, fmt.Errorf("catalog: open units: %w", err)
	}
	return us, nil
}

// ClaimUnit gives unit u (as Units listed it) to holder for ttl. It
// claims a unit to do, or one running whose lease the caller found over
// (or whose holder it knows died); it fails (false) if the unit changed
// meanwhile, so exactly one of several claimers gets it.
func (c *Catalog) ClaimUnit(ctx context.Context, u Unit, holder string, ttl time.Duration) (bool, error) {
	res, err := c.db.ExecContext(ctx, `UPDATE run_units SET state = ?, holder = ?, expires = ?
		WHERE run_id = ? AND name = ? AND state = ? AND holder = ? AND expires = ?`,
		UnitRunning, holder, formatTime(c.now().Add(ttl)), u.Run, u.Name, u.State, u.Holder, formatTime(u.Expires))
	if err != nil {
		return false, fmt.Errorf("catalog: claim unit %s of run %d: %w", u.Name, u.Run, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("catalog: claim unit %s of run %d: %w", u.Name, u.Run, err)
	}
	if n == 1 && u.State == UnitRunning {
		if err := c.Audit(ctx, holder, "unit.takeover", fmt.Sprintf("run %d unit %s", u.Run, u.Name), "from "+u.Holder); err != nil {
			return true, err
		}
	}
	return n == 1, nil
}

// ErrLostUnit: the unit is no longer the caller's (its lease ran out and
// another process claimed it).
var ErrLostUnit = errors.New("unit taken over by another process")

// RenewUnit extends holder's lease on a unit.
func (c *Catalog) RenewUnit(ctx context.Context, run int64, name, holder string, ttl time.Duration) error {
	res, err := c.db.ExecContext(ctx, `UPDATE run_units SET expires = ? WHERE run_id = ? AND name = ? AND state = ? AND holder = ?`,
		formatTime(c.now().Add(ttl)), run, name, UnitRunning, holder)
	if err != nil {
		return fmt.Errorf("catalog: renew unit %s of run %d: %w", name, run, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("unit %s of run %d: %w", name, run, ErrLostUnit)
	}
	return nil
}

// FinishUnit records holder's outcome of a unit: done, with its source
// kind, counts and error ("" when it went well).
func (c *Catalog) FinishUnit(ctx context.Context, run int64, name, holder, kind string, counts Counts, unitErr string) error {
	cj, _ := json.Marshal(counts)
	res, err := c.db.ExecContext(ctx, `UPDATE run_units SET state = ?, expires = '', kind = ?, counts = ?, error = ?
		WHERE run_id = ? AND name = ? AND state = ? AND holder = ?`, UnitDone, kind, string(cj), unitErr, run, name, UnitRunning, holder)
	if err != nil {
		return fmt.Errorf("catalog: finish unit %s of run %d: %w", name, run, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("unit %s of run %d: %w", name, run, ErrLostUnit)
	}
	return nil
}

// ReleaseUnit hands a unit holder stopped working on back, to do.
func (c *Catalog) ReleaseUnit(ctx context.Context, run int64, name, holder string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE run_units SET state = ?, holder = '', expires = ''
		WHERE run_id = ? AND name = ? AND state = ? AND holder = ?`, UnitTodo, run, name, UnitRunning, holder)
	if err != nil {
		return fmt.Errorf("catalog: release unit %s of run %d: %w", name, run, err)
	}
	return nil
}
