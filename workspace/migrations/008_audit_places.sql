-- syncd catalog, version 8. Portable SQL.
-- The audit log names the workspace and document an entry is about, so
-- that `syncd serve` shows one workspace's or one document's entries
-- ("who downloaded version 3?") through an index, not a scan of the log.
ALTER TABLE audit ADD COLUMN workspace TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN document TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_workspace ON audit (workspace, id);
CREATE INDEX audit_document ON audit (document, id);
