-- The tables are written far more than they are read: every secondary
-- index costs each of the thousands of rows a second. Reads over time go
-- through clean_log.ts (and the per-minute rollups to come); the lake is
-- read by id, which is file and offset. Measured with
-- `go test -bench Store ./internal/bench`: MariaDB's CPU per 500,000 rows
-- drops by a fifth for clean_log and a quarter for raw_log.
ALTER TABLE {{clean}} DROP INDEX idx_status_ts, DROP INDEX idx_received_at;
ALTER TABLE {{raw}} DROP INDEX idx_received_at;
