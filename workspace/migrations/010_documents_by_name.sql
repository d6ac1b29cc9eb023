-- syncd catalog, version 10. Portable SQL.
-- A workspace's documents by name: `syncd serve`'s search tests each
-- name against the words asked for, reading this index alone (not every
-- document's row through documents_place), and its name-ordered page
-- stops at the page's end.
CREATE INDEX documents_name ON documents (workspace, name, key, folder);
