-- syncd catalog, version 13. Portable SQL.
-- The units of a run still to do, by name: a worker looking for work reads
-- the first few of them before each claim (UnitsToClaim), which without
-- this index walks every unit of the run.
CREATE INDEX run_units_todo ON run_units (run_id, name) WHERE state = 'todo';
