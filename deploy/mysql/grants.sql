-- Least-privilege MySQL/MariaDB users for Datastream (README: "Least
-- privilege"). Run as an administrator AFTER `datastream setup` has created
-- the database and its tables: MySQL grants on a table need the table.
-- Change the passwords and, if you use others, the database and table
-- names (--raw-table, --clean-table). The logs-producer needs no MySQL user.

-- Schema owner: `datastream setup` and upgrades (it applies migrations).
CREATE USER IF NOT EXISTS 'datastream_admin'@'%' IDENTIFIED BY 'change-me-admin';
GRANT CREATE, ALTER, INDEX, DROP, SELECT, INSERT, UPDATE, DELETE ON `datastream`.* TO 'datastream_admin'@'%';

-- data-lake-consumer: writes raw_log and the sources its rows point to.
-- UPDATE is needed by INSERT ... ON DUPLICATE KEY UPDATE (idempotent writes).
CREATE USER IF NOT EXISTS 'datastream_lake'@'%' IDENTIFIED BY 'change-me-lake';
GRANT SELECT ON `datastream`.`datastream_schema` TO 'datastream_lake'@'%';
GRANT SELECT, INSERT, UPDATE ON `datastream`.`raw_log` TO 'datastream_lake'@'%';
GRANT SELECT, INSERT, UPDATE ON `datastream`.`log_source` TO 'datastream_lake'@'%';

-- data-clean-consumer: writes clean_log, its dead-letter record and sources.
CREATE USER IF NOT EXISTS 'datastream_clean'@'%' IDENTIFIED BY 'change-me-clean';
GRANT SELECT ON `datastream`.`datastream_schema` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE ON `datastream`.`clean_log` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE ON `datastream`.`clean_log_dead_letters` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE ON `datastream`.`log_source` TO 'datastream_clean'@'%';
-- Visits: one row per visit, deleted when a late line merges two visits;
-- the rows of clean_log are then rewritten (UPDATE above).
GRANT SELECT, INSERT, UPDATE, DELETE ON `datastream`.`clean_log_visitors` TO 'datastream_clean'@'%';
-- Rollups: each batch adds a pending row; a fold adds them to the minute
-- rows, deletes them and marks hours and days, which are later derived
-- again (deleted and inserted) from the level below.
GRANT SELECT, INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_traffic` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_top` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_visitors` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_pending` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_dirty` TO 'datastream_clean'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_top_country` TO 'datastream_clean'@'%';

-- dashboard and report: read everything; they fold pending rollups too.
CREATE USER IF NOT EXISTS 'datastream_dashboard'@'%' IDENTIFIED BY 'change-me-dashboard';
GRANT SELECT ON `datastream`.* TO 'datastream_dashboard'@'%';
GRANT INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_traffic` TO 'datastream_dashboard'@'%';
GRANT INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_top` TO 'datastream_dashboard'@'%';
GRANT INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_visitors` TO 'datastream_dashboard'@'%';
GRANT DELETE ON `datastream`.`clean_log_rollup_pending` TO 'datastream_dashboard'@'%';
GRANT INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_dirty` TO 'datastream_dashboard'@'%';
GRANT INSERT, UPDATE, DELETE ON `datastream`.`clean_log_rollup_top_country` TO 'datastream_dashboard'@'%';
