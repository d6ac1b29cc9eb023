-- syncd catalog, version 1, SQLite (001_init.postgres.sql: the same on PostgreSQL).
CREATE TABLE workspaces (
    name    TEXT PRIMARY KEY,
    created TEXT NOT NULL
);
CREATE TABLE blobs (
    id         TEXT PRIMARY KEY,          -- sha256, lowercase hex
    size       BIGINT NOT NULL,
    quickxor   TEXT NOT NULL,
    refs       BIGINT NOT NULL DEFAULT 0, -- number of sightings
    created    TEXT NOT NULL
);
CREATE INDEX blobs_quickxor ON blobs (quickxor);
CREATE TABLE blob_hashes (                 -- other names for a blob: md5, sha1, imap-part keys
    kind    TEXT NOT NULL,
    value   TEXT NOT NULL,
    blob_id TEXT NOT NULL REFERENCES blobs (id),
    PRIMARY KEY (kind, value)
);
CREATE TABLE blob_content (                -- text sketch for history (MinHash)
    blob_id TEXT PRIMARY KEY REFERENCES blobs (id),
    kind    TEXT NOT NULL,
    tokens  BIGINT NOT NULL,
    sketch  TEXT NOT NULL
);
CREATE TABLE sightings (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    blob_id     TEXT NOT NULL REFERENCES blobs (id),
    name        TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    time        TEXT NOT NULL,
    author      TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    folder      TEXT NOT NULL,
    lineage     TEXT NOT NULL,             -- JSON connectors.Lineage
    run_id      BIGINT NOT NULL,
    seen        TEXT NOT NULL,
    UNIQUE (source, ref, fingerprint)
);
CREATE INDEX sightings_blob ON sightings (blob_id);
CREATE TABLE cursors (
    source  TEXT PRIMARY KEY,
    cursor  TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE documents (
    key       TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    folder    TEXT NOT NULL,
    name      TEXT NOT NULL
);
CREATE TABLE versions (
    document_key TEXT NOT NULL,
    key          TEXT NOT NULL,
    blob_id      TEXT NOT NULL REFERENCES blobs (id),
    seq          INTEGER NOT NULL,
    time         TEXT NOT NULL,
    author       TEXT NOT NULL,
    PRIMARY KEY (document_key, key)
);
CREATE TABLE version_parents (
    document_key TEXT NOT NULL,
    version_key  TEXT NOT NULL,
    parent_key   TEXT NOT NULL,
    reason       TEXT NOT NULL,
    confidence   REAL NOT NULL,
    PRIMARY KEY (document_key, version_key, parent_key)
);
CREATE TABLE version_sightings (
    sighting_id  BIGINT PRIMARY KEY,
    document_key TEXT NOT NULL,
    version_key  TEXT NOT NULL
);
CREATE INDEX version_sightings_doc ON version_sightings (document_key, version_key);
CREATE TABLE runs (
    id       INTEGER PRIMARY KEY,
    job      TEXT NOT NULL,
    mode     TEXT NOT NULL,                -- sync | plan
    started  TEXT NOT NULL,
    finished TEXT NOT NULL DEFAULT '',
    status   TEXT NOT NULL,                -- running | ok | problems | failed | interrupted
    counts   TEXT NOT NULL DEFAULT '{}',   -- JSON
    error    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE run_items (                   -- what a run did with each item it did not already know
    run_id  BIGINT NOT NULL,
    source  TEXT NOT NULL,
    ref     TEXT NOT NULL,
    name    TEXT NOT NULL,
    size    BIGINT NOT NULL,
    action  TEXT NOT NULL,                 -- new | duplicate | skip | problem
    reason  TEXT NOT NULL,
    blob_id TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX run_items_run ON run_items (run_id);
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    time    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE TABLE pins (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,                 -- merge | split | relink
    args    TEXT NOT NULL,                 -- JSON
    actor   TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE locks (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires TEXT NOT NULL
);
