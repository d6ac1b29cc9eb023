-- syncd catalog, version 3.
-- Items that failed (a dropped connection, a throttled download, an
-- unreadable part, content found damaged in the store) wait here until a
-- later run stores them, whatever the source's cursor says.
CREATE TABLE retries (
    source    TEXT NOT NULL,
    ref       TEXT NOT NULL,
    name      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    attempts  BIGINT NOT NULL,
    first_run BIGINT NOT NULL,
    last_run  BIGINT NOT NULL,
    PRIMARY KEY (source, ref)
);
-- sketched = 0: the blob's derived rows (text sketch) are still to be
-- computed; every blob stored before this migration had its chance.
ALTER TABLE blobs ADD COLUMN sketched INTEGER NOT NULL DEFAULT 1;
-- damaged = 1: verify found the stored bytes missing or wrong; the next
-- sync fetches the content again from a source that still has it.
ALTER TABLE blobs ADD COLUMN damaged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX blobs_to_sketch ON blobs (id) WHERE sketched = 0;
CREATE INDEX blobs_damaged ON blobs (id) WHERE damaged = 1;
