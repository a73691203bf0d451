-- Where lines come from (the producer's host and the file's path) is the
-- same for every line of a file, so rows carry a small id into this table
-- instead of both texts. Measured with BenchmarkStore: the two texts cost
-- MariaDB about a tenth of its CPU per line (parsed, logged and stored in
-- both tables). The table is shared by every table set of the database.
CREATE TABLE IF NOT EXISTS {{sources}} (
  id          INT UNSIGNED  NOT NULL AUTO_INCREMENT,
  -- SHA-256 of host, NUL, path: a unique key over the texts themselves
  -- would pass InnoDB's limit of 3072 bytes per key.
  source_key  BINARY(32)    NOT NULL,
  host        VARCHAR(255)  NOT NULL,
  path        VARCHAR(1024) NOT NULL,
  first_seen  DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  UNIQUE KEY uk_source_key (source_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE {{raw}} ADD COLUMN source_id INT UNSIGNED NOT NULL DEFAULT 0 AFTER id;
ALTER TABLE {{clean}} ADD COLUMN source_id INT UNSIGNED NOT NULL DEFAULT 0 AFTER id;

-- Rows written before this migration: their sources, then their ids.
INSERT IGNORE INTO {{sources}} (source_key, host, path)
  SELECT DISTINCT UNHEX(SHA2(CONCAT(source_host, CHAR(0), source_path), 256)), source_host, source_path FROM {{raw}};
INSERT IGNORE INTO {{sources}} (source_key, host, path)
  SELECT DISTINCT UNHEX(SHA2(CONCAT(source_host, CHAR(0), source_path), 256)), source_host, source_path FROM {{clean}};
UPDATE {{raw}} r JOIN {{sources}} s ON s.source_key = UNHEX(SHA2(CONCAT(r.source_host, CHAR(0), r.source_path), 256))
  SET r.source_id = s.id;
UPDATE {{clean}} c JOIN {{sources}} s ON s.source_key = UNHEX(SHA2(CONCAT(c.source_host, CHAR(0), c.source_path), 256))
  SET c.source_id = s.id;
