-- syncd catalog, version 6. Portable SQL.
-- The streaming readers (docread.go) read one workspace, or some of its
-- folders, in document key order: the tree export goes a workspace at a time.
CREATE INDEX documents_place ON documents (workspace, folder, key);
