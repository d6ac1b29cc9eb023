-- syncd catalog, version 5, SQLite (005_history_index.postgres.sql: the same on PostgreSQL). The history index: what lets a rebuild load
-- one component of documents at a time instead of the whole catalog.
-- A node is one blob in one workspace (the unit history groups); a key is
-- one piece of evidence that can put nodes in one document (a name family,
-- a mail thread id, a SharePoint item, a text-similarity band, a pin),
-- hashed to 64 bits by engine/history (keys.go).
-- keyset: every key the node carries (12 bytes each: the key, little
-- endian, and its kind as 4 bytes), what a walk from the node reads.
-- places: how many place keys (name family, mail thread, SharePoint
-- item) it carries; a node with more than the cap (a logo in every
-- message) is a hub, and its place keys are no evidence.
CREATE TABLE history_nodes (
    id        INTEGER PRIMARY KEY,
    blob_id   TEXT NOT NULL,
    workspace TEXT NOT NULL,
    places    BIGINT NOT NULL DEFAULT 0,
    keyset    BLOB NOT NULL DEFAULT X'',
    UNIQUE (blob_id, workspace)
);
CREATE INDEX history_nodes_places ON history_nodes (places);
-- The nodes of each key. kind: 0 a place key, 1 a text band, 2 a pin.
CREATE TABLE history_keys (
    key  BIGINT NOT NULL,
    node BIGINT NOT NULL,
    kind INTEGER NOT NULL,
    PRIMARY KEY (key, node)
) WITHOUT ROWID;
-- Keys carried by more than the cap of nodes (pin keys never are):
-- nodes when it passed the cap; what and label explain it (a name
-- family, a message id, a text band), '' when recounted after a change
-- of cap.
CREATE TABLE history_capped (
    key   BIGINT PRIMARY KEY,
    nodes BIGINT NOT NULL,
    what  TEXT NOT NULL,
    label TEXT NOT NULL
) WITHOUT ROWID;
-- Nodes whose component must be rebuilt; emptied when it is.
CREATE TABLE history_dirty (node BIGINT PRIMARY KEY) WITHOUT ROWID;
-- What ingest added that the index does not hold yet, queued by the
-- transaction that adds it (workspace: Commit, RepairSketches, AddPin),
-- so a crash cannot lose it.
CREATE TABLE history_todo_sightings (id BIGINT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE history_todo_contents (blob_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE history_todo_pins (id BIGINT PRIMARY KEY) WITHOUT ROWID;
-- name/value: 'cap' (the key cap the index was last rebuilt with), 'full'
-- (set: the next rebuild covers every component).
CREATE TABLE history_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO history_todo_sightings (id) SELECT id FROM sightings;
INSERT INTO history_todo_contents (blob_id) SELECT blob_id FROM blob_content;
INSERT INTO history_todo_pins (id) SELECT id FROM pins;
INSERT INTO history_meta (name, value) VALUES ('full', '1');
-- Which documents hold a blob: the rebuild of a component replaces them.
CREATE INDEX versions_blob ON versions (blob_id);
