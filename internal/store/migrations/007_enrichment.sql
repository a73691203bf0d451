-- Enrichment beyond the original design's country and city (issue 13):
-- the network class of the client address (why a row has no country),
-- region and coordinates from a --geoip-db file, and the browser's major
-- version. visit_id existed since 001.
ALTER TABLE {{clean}} ADD COLUMN network VARCHAR(16) NULL AFTER city;
ALTER TABLE {{clean}} ADD COLUMN region VARCHAR(128) NULL AFTER network;
ALTER TABLE {{clean}} ADD COLUMN latitude DOUBLE NULL AFTER region;
ALTER TABLE {{clean}} ADD COLUMN longitude DOUBLE NULL AFTER latitude;
ALTER TABLE {{clean}} ADD COLUMN ua_version VARCHAR(16) NULL AFTER ua_family;
-- Visits: one row per visitor (a hash of client address and user agent)
-- holding its latest visit, so that every clean consumer, competing or
-- restarted, numbers that visitor's visits alike. Rows are locked in the
-- clean consumer's write transaction (see README, "Visits").
CREATE TABLE IF NOT EXISTS {{visitors}} (
  visitor   BINARY(16)   NOT NULL,
  visit_no  INT UNSIGNED NOT NULL,
  -- The visit's first and last request, in ms since 1970 (UTC).
  first_ms  BIGINT       NOT NULL,
  last_ms   BIGINT       NOT NULL,
  PRIMARY KEY (visitor)
) ENGINE=InnoDB;
-- Sizes in KB and MB as the original design computed them: an integer
-- divided by an integer is a DECIMAL cut to 9 places (0.002529144 MB for
-- 2652 bytes, not 0.002529144287109375); a DOUBLE divisor keeps them exact.
ALTER TABLE {{clean}} MODIFY COLUMN size_kb DOUBLE AS (bytes / 1024e0) VIRTUAL, MODIFY COLUMN size_mb DOUBLE AS (bytes / 1048576e0) VIRTUAL;
