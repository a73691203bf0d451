-- After 004 filled source_id, the texts are in the sources table. A
-- separate migration, so that 004 cut short and run again still finds the
-- columns it reads.
ALTER TABLE {{raw}} DROP COLUMN source_host, DROP COLUMN source_path;
ALTER TABLE {{clean}} DROP COLUMN source_host, DROP COLUMN source_path;
