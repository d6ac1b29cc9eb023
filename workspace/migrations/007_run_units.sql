-- syncd catalog, version 7. Portable SQL.
-- run_units: the units of work of a run (its sources), claimed by the
-- processes that run them under a lease (holder, expires), so that several
-- workers share one run and a dead worker's unit is taken over.
CREATE TABLE run_units (
    run_id  BIGINT NOT NULL,
    name    TEXT NOT NULL,
    state   TEXT NOT NULL,                 -- todo | running | done
    holder  TEXT NOT NULL DEFAULT '',
    expires TEXT NOT NULL DEFAULT '',
    kind    TEXT NOT NULL DEFAULT '',
    counts  TEXT NOT NULL DEFAULT '',
    error   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, name)
);
-- holder: the process that started (and finishes) the run.
ALTER TABLE runs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
