-- syncd catalog, version 9 (PostgreSQL).
-- blob_texts: the start of each content's extracted text (64 KiB), for
-- `syncd serve`'s search by text, with a generated tsvector ('simple':
-- no language's stemming, as the SQLite index) under a GIN index.
CREATE TABLE blob_texts (
    blob_id TEXT PRIMARY KEY REFERENCES blobs (id),
    text    TEXT NOT NULL,
    tsv     tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX blob_texts_tsv ON blob_texts USING GIN (tsv);
