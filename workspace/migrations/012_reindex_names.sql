-- syncd catalog, version 12. Portable SQL.
-- Name families now strip copy names in more languages ("Kopie von",
-- "Copie de", "X - Kopie", ...) and OneDrive's conflict copies
-- ("Budget-DESKTOP-4F2K9"): the history index holds keys worked out by the
-- old rule. Clear it and queue everything again, as version 5 did: the
-- next history rebuild indexes every sighting anew and rebuilds every
-- component.
DELETE FROM history_keys;
DELETE FROM history_capped;
DELETE FROM history_dirty;
DELETE FROM history_nodes;
DELETE FROM history_todo_sightings;
DELETE FROM history_todo_contents;
DELETE FROM history_todo_pins;
INSERT INTO history_todo_sightings (id) SELECT id FROM sightings;
INSERT INTO history_todo_contents (blob_id) SELECT blob_id FROM blob_content;
INSERT INTO history_todo_pins (id) SELECT id FROM pins;
DELETE FROM history_meta WHERE name = 'full';
INSERT INTO history_meta (name, value) VALUES ('full', '1');
