-- Ids of the lines the clean consumer dead-lettered, so a line delivered
-- again (producer restart, consumer crash before its ack) goes to the
-- dead-letter queue once.
CREATE TABLE IF NOT EXISTS {{dead}} (
  id               BINARY(16)  NOT NULL,
  dead_lettered_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
