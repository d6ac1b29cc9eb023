-- syncd catalog, version 11. Portable SQL.
-- A content's own record of its last save (an Office document's
-- dcterms:modified and cp:revision, an ODF document's dc:date and
-- meta:editing-cycles), for the history rebuild: share copies whose times
-- were all reset by a copy to a new filer keep their order. '' and 0 when
-- unknown, as for content stored before this version.
ALTER TABLE blob_content ADD COLUMN modified TEXT NOT NULL DEFAULT '';
ALTER TABLE blob_content ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
