-- Hours and days whose rollup rows are not derived yet from the minutes
-- folded into them. Folding writes minute rows only and marks their hour
-- and day here; once a bucket has been quiet for a while it is recomputed
-- from the level below and its mark removed (rollup_compact.go). Readers
-- read a marked bucket from the level below, so nothing is counted late or
-- twice. A fold of a second's batches then writes each value once, not
-- once per level.
CREATE TABLE IF NOT EXISTS {{rollup_dirty}} (
  level   TINYINT UNSIGNED NOT NULL,
  bucket  DATETIME         NOT NULL,
  touched DATETIME(6)      NOT NULL,
  PRIMARY KEY (level, bucket)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
