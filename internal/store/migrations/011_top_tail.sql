-- Hours and days keep every value of a top list, but only the heaviest
-- topHead of each view (dimension, bucket and filter keys) are its head
-- (tail 0); the others are its tail (tail 1). Readers read heads: a top
-- list over a week of a busy site reads a few thousand rows per day
-- instead of every address seen that day. Deriving a day from its hours
-- reads heads and tails, so the rows stay exact (see rollup_compact.go).
ALTER TABLE {{top}} ADD COLUMN tail TINYINT UNSIGNED NOT NULL DEFAULT 0 AFTER level,
  DROP PRIMARY KEY, ADD PRIMARY KEY (dim, is_bot, level, tail, bucket, host, status_class, country, vhash);
-- Hours and days derived before this have no tail yet: derive them again
-- (readers read a marked bucket from the level below meanwhile).
INSERT IGNORE INTO {{rollup_dirty}} (level, bucket, touched)
  SELECT DISTINCT level, bucket, '2000-01-01 00:00:00' FROM {{traffic}} WHERE level > 0;
