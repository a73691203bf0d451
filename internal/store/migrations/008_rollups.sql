-- Per-minute rollups the dashboard and `datastream report` read instead of
-- scanning clean_log. The clean consumer stores each batch's rollup in the
-- transaction of its rows (the pending table at the end), counting only
-- the rows that transaction really inserted, so a re-delivered line never
-- counts twice; FoldRollups adds pending batches to these tables. Each is kept at three levels
-- (0 minute, 1 hour, 2 day; buckets in UTC) so that a range is read as a
-- few days, hours and minutes rather than as every minute it holds.
-- Unknown values (enrichment not filled) are '' and is_bot 2.
CREATE TABLE IF NOT EXISTS {{traffic}} (
  level      TINYINT UNSIGNED  NOT NULL,
  bucket     DATETIME          NOT NULL,
  host       VARCHAR(255)      NOT NULL,
  status     SMALLINT UNSIGNED NOT NULL,
  country    VARCHAR(2)        NOT NULL,
  is_bot     TINYINT UNSIGNED  NOT NULL,
  requests   BIGINT UNSIGNED   NOT NULL,
  bytes      BIGINT UNSIGNED   NOT NULL,
  PRIMARY KEY (level, bucket, host, status, country, is_bot)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Top entries: one row per dimension value (path, 404 path, address,
-- referring site, browser, OS, device, bot, response-time bin), keyed by
-- the hash of the whole value; value is its first 255 characters.
CREATE TABLE IF NOT EXISTS {{top}} (
  dim          TINYINT UNSIGNED NOT NULL,
  level        TINYINT UNSIGNED NOT NULL,
  bucket       DATETIME         NOT NULL,
  host         VARCHAR(255)     NOT NULL,
  status_class TINYINT UNSIGNED NOT NULL,
  country      VARCHAR(2)       NOT NULL,
  is_bot       TINYINT UNSIGNED NOT NULL,
  vhash        BINARY(8)        NOT NULL,
  value        VARCHAR(255)     NOT NULL,
  n            BIGINT UNSIGNED  NOT NULL,
  PRIMARY KEY (dim, level, bucket, host, status_class, country, is_bot, vhash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Unique visitors (address + user agent + day): a HyperLogLog sketch per
-- bucket and filter keys (sparse while small), merged by the one process
-- folding at a time (see rollup_fold.go).
CREATE TABLE IF NOT EXISTS {{rollup_visitors}} (
  level      TINYINT UNSIGNED  NOT NULL,
  bucket     DATETIME          NOT NULL,
  host       VARCHAR(255)      NOT NULL,
  country    VARCHAR(2)        NOT NULL,
  is_bot     TINYINT UNSIGNED  NOT NULL,
  sketch     MEDIUMBLOB        NOT NULL,
  PRIMARY KEY (level, bucket, host, country, is_bot)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What committed clean batches add to the rollups, not folded in yet: a
-- batch writes one row here in its own transaction (cheap), and
-- FoldRollups adds many batches at once to the tables above and deletes
-- their rows in one transaction, so each is counted exactly once.
CREATE TABLE IF NOT EXISTS {{pending}} (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  delta      LONGBLOB        NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
