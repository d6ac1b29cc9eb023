-- syncd catalog, version 9 (SQLite).
-- blob_texts: the start of each content's extracted text (64 KiB), for
-- `syncd serve`'s search by text; blob_text_fts indexes it (FTS5 over the
-- table, kept in step by triggers). Content stored before this version
-- has no row until it is indexed again.
CREATE TABLE blob_texts (
    blob_id TEXT PRIMARY KEY REFERENCES blobs (id),
    text    TEXT NOT NULL
);
CREATE VIRTUAL TABLE blob_text_fts USING fts5(text, content = 'blob_texts', tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER blob_texts_ai AFTER INSERT ON blob_texts BEGIN
    INSERT INTO blob_text_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER blob_texts_ad AFTER DELETE ON blob_texts BEGIN
    INSERT INTO blob_text_fts (blob_text_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
