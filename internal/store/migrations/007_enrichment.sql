-- Enrichment beyond the original design's country and city (issue 13):
-- the network class of the client address (why a row has no country),
-- region and coordinates from a --geoip-db file, and the browser's major
-- version. visit_id existed since 001.
ALTER TABLE {{clean}} ADD COLUMN network VARCHAR(16) NULL AFTER city;
ALTER TABLE {{clean}} ADD COLUMN region VARCHAR(128) NULL AFTER network;
ALTER TABLE {{clean}} ADD COLUMN latitude DOUBLE NULL AFTER region;
ALTER TABLE {{clean}} ADD COLUMN longitude DOUBLE NULL AFTER latitude;
ALTER TABLE {{clean}} ADD COLUMN ua_version VARCHAR(16) NULL AFTER ua_family;
-- Visits: every visit of every visitor (a hash of client address and user
-- agent), so that the visits are a function of the lines alone, whichever
-- clean consumer, competing or restarted, writes which line when. The row
-- with visit_key -2^63 holds the visitor's latest visit and is the lock its
-- writers take in the clean consumer's write transaction; each earlier
-- visit has a row keyed by its first time (see README, "Visits").
CREATE TABLE IF NOT EXISTS {{visitors}} (
  visitor   BINARY(16)   NOT NULL,
  visit_key BIGINT       NOT NULL,
  -- The visit's first and last request, in ms since 1970 (UTC); NULL in
  -- a lock row created before its first visit is written.
  first_ms  BIGINT       NULL,
  last_ms   BIGINT       NULL,
  PRIMARY KEY (visitor, visit_key)
) ENGINE=InnoDB;
-- Sizes in KB and MB as the original design computed them: an integer
-- divided by an integer is a DECIMAL cut to 9 places (0.002529144 MB for
-- 2652 bytes, not 0.002529144287109375); a DOUBLE divisor keeps them exact.
ALTER TABLE {{clean}} MODIFY COLUMN size_kb DOUBLE AS (bytes / 1024e0) VIRTUAL, MODIFY COLUMN size_mb DOUBLE AS (bytes / 1048576e0) VIRTUAL;
