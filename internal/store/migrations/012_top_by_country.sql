-- The heads of hours and days again, keyed by country first: a view
-- filtered by country reads its country's rows as a range of this key
-- instead of every country's rows of the top table (whose key has the
-- country after the bucket). Written only when a bucket is derived, in the
-- same transaction; filter-key rows only (a country filter never reads the
-- "any" rows). At 5 M rows over 30 days, top addresses over all of FR read
-- 1.7 M day heads of every country to keep FR's 122,000.
CREATE TABLE IF NOT EXISTS {{top_country}} (
  dim          TINYINT UNSIGNED NOT NULL,
  country      VARCHAR(2)       NOT NULL,
  is_bot       TINYINT UNSIGNED NOT NULL,
  level        TINYINT UNSIGNED NOT NULL,
  bucket       DATETIME         NOT NULL,
  host         VARCHAR(255)     NOT NULL,
  status_class TINYINT UNSIGNED NOT NULL,
  vhash        BINARY(8)        NOT NULL,
  value        VARCHAR(255)     NOT NULL,
  n            BIGINT UNSIGNED  NOT NULL,
  PRIMARY KEY (dim, country, is_bot, level, bucket, host, status_class, vhash),
  KEY by_bucket (level, bucket)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- The heads derived before this.
INSERT IGNORE INTO {{top_country}} (dim, country, is_bot, level, bucket, host, status_class, vhash, value, n)
  SELECT dim, country, is_bot, level, bucket, host, status_class, vhash, value, n FROM {{top}}
  WHERE dim IN (1, 2, 3, 4, 5, 6, 7, 8, 9) AND is_bot IN (0, 1, 2) AND level IN (1, 2) AND tail = 0;
