-- syncd catalog, version 4. Portable SQL.
-- gone: when syncd saw the copy no longer at its source (expunged,
-- deleted, moved out of scope); '' while it is there. The sighting and
-- its content are kept: the store is an archive.
ALTER TABLE sightings ADD COLUMN gone TEXT NOT NULL DEFAULT '';
CREATE INDEX sightings_gone ON sightings (source, gone) WHERE gone <> '';
