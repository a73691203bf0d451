package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hours and days are derived from the level below once they are quiet.
// A fold writes minute rows only, and marks the hour and the day of each
// in the dirty table; compactRollups recomputes a marked hour from its
// minutes, and a marked day from its hours once none of them is marked,
// each in one transaction with the removal of its mark. Readers read a
// marked bucket from the level below (see dirtyBuckets), so a bucket is
// never read half derived. A live stream's fold thus writes each value
// once instead of once per level, and each hour and day is derived once,
// after its last line, in one statement per table.

// compactIdle is how long a bucket must have been quiet before it is
// derived: the current hour and day are touched by every fold and stay
// read from minutes (and hours) until they end.
const compactIdle = 15 * time.Second

// topHead is how many values of each view (dimension, bucket and filter
// keys) an hour or a day reads in a top list: its heaviest. At 5 M rows
// over 30 days (60,000 addresses), top addresses over all read 1.2 M rows
// and took 2.4 s; heads make it about 30,000. The dashboard shows ten.
const topHead = 1000

// compactMax bounds the buckets one FoldRollups derives, so the fold the
// dashboard runs before it reads stays short after a large backfill.
const compactMax = 24

// markDirty marks the hours and days ru has minutes in.
func (s *Store) markDirty(ctx context.Context, tx *sql.Tx, ru *rollup) error {
	type mark struct {
		level  uint8
		bucket int64
	}
	seen := map[mark]bool{}
	for k := range ru.traffic {
		for lv := uint8(LevelHour); lv < numLevels; lv++ {
			seen[mark{lv, truncUnix(k.bucket, lv)}] = true
		}
	}
	marks := sortedKeys(seen, func(a, b mark) int { return cmp.Or(cmp.Compare(a.level, b.level), cmp.Compare(a.bucket, b.bucket)) })
	now := time.Now().UTC()
	err := upsert(ctx, tx, "INSERT INTO "+s.rollupTable(dirtySuffix)+" (level, bucket, touched) VALUES ", "(?,?,?)",
		" ON DUPLICATE KEY UPDATE touched = VALUES(touched)", len(marks), func(i int, args []any) []any {
			return append(args, marks[i].level, bucketTime(marks[i].bucket), now)
		})
	if err != nil {
		return fmt.Errorf("mark hours and days: %w", err)
	}
	return nil
}

// compactRollups derives the marked hours, then days, quiet for idle, at
// most limit of them (all when limit < 0), waiting at most wait for the
// fold lock; it returns how many.
func (s *Store) compactRollups(ctx context.Context, idle time.Duration, limit int, wait time.Duration) (int, error) {
	n := 0
	_, err := s.withFoldLock(ctx, wait, func(conn *sql.Conn) error {
		cutoff := time.Now().UTC().Add(-idle)
		dirty := s.rollupTable(dirtySuffix)
		queries := [...]string{
			LevelHour: "SELECT bucket, touched FROM " + dirty + " WHERE level = 1 AND touched <= ? ORDER BY bucket",
			// A day waits for its hours.
			LevelDay: "SELECT d.bucket, d.touched FROM " + dirty + " d WHERE d.level = 2 AND d.touched <= ? AND NOT EXISTS (SELECT 1 FROM " +
				dirty + " h WHERE h.level = 1 AND h.bucket >= d.bucket AND h.bucket < d.bucket + INTERVAL 1 DAY) ORDER BY d.bucket",
		}
		for lv := LevelHour; lv < numLevels; lv++ {
			q, args := queries[lv], []any{cutoff}
			if limit >= 0 {
				q += " LIMIT ?"
				args = append(args, max(limit-n, 0))
			}
			type mark struct{ bucket, touched time.Time }
			var marks []mark
			rows, err := conn.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var m mark
				if err := rows.Scan(&m.bucket, &m.touched); err != nil {
					rows.Close()
					return err
				}
				marks = append(marks, m)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, m := range marks {
				err := inConnTx(ctx, conn, func(tx *sql.Tx) error {
					if err := s.deriveBucket(ctx, tx, uint8(lv), m.bucket.UTC()); err != nil {
						return err
					}
					// A fold elsewhere (another Galera node) may have
					// touched it since: then the mark stays.
					_, err := tx.ExecContext(ctx, "DELETE FROM "+dirty+" WHERE level = ? AND bucket = ? AND touched = ?", lv, m.bucket, m.touched)
					return err
				})
				if err != nil {
					return fmt.Errorf("derive level %d bucket %s: %w", lv, m.bucket.UTC().Format(time.RFC3339), err)
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("compact rollups: %w", err)
	}
	return n, nil
}

// deriveBucket recomputes bucket b of level lv from the level below.
func (s *Store) deriveBucket(ctx context.Context, tx *sql.Tx, lv uint8, b time.Time) error {
	end := b.Add(levelSize[lv])
	traffic, top := s.rollupTable(trafficSuffix), s.rollupTable(topSuffix)
	stmts := []string{
		"DELETE FROM " + traffic + " WHERE level = ? AND bucket = ?",
		"INSERT INTO " + traffic + " (level, bucket, host, status, country, is_bot, requests, bytes)" +
			" SELECT ?, ?, host, status, country, is_bot, SUM(requests), SUM(bytes) FROM " + traffic +
			" WHERE level = ? AND bucket >= ? AND bucket < ? GROUP BY host, status, country, is_bot",
		"DELETE FROM " + top + " WHERE " + allDims + " AND " + allBots + " AND level = ? AND tail IN (0, 1) AND bucket = ?",
		// Heads and tails of the level below, so the rows stay exact; the
		// topHead heaviest values of each view are the new bucket's head.
		// Response-time bins are all head: percentiles need every bin.
		"INSERT INTO " + top + " (dim, level, bucket, host, status_class, country, is_bot, vhash, value, n, tail)" +
			" SELECT dim, ?, ?, host, status_class, country, is_bot, vhash, MAX(value), SUM(n)," +
			" dim <> " + strconv.Itoa(DimRespTime) + " AND ROW_NUMBER() OVER (PARTITION BY dim, host, status_class, country, is_bot ORDER BY SUM(n) DESC, vhash) > " + strconv.Itoa(topHead) +
			" FROM " + top + " WHERE " + allDims + " AND " + allBots + " AND level = ? AND tail IN (0, 1) AND bucket >= ? AND bucket < ? GROUP BY dim, host, status_class, country, is_bot, vhash",
	}
	for i, q := range stmts {
		args := []any{lv, b}
		if i%2 == 1 {
			args = append(args, lv-1, b, end)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	// The filter-key heads again, keyed by country first.
	byCountry := s.rollupTable(countrySuffix)
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+byCountry+" WHERE level = ? AND bucket = ?", lv, b); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+byCountry+" (dim, country, is_bot, level, bucket, host, status_class, vhash, value, n)"+
		" SELECT dim, country, is_bot, level, bucket, host, status_class, vhash, value, n FROM "+top+
		" WHERE "+allDims+" AND "+viewBots+" AND level = ? AND tail = 0 AND bucket = ?", lv, b); err != nil {
		return err
	}
	// The visitors' sketches are merged in Go.
	vis := s.rollupTable(visitorsSuffix)
	rows, err := tx.QueryContext(ctx, "SELECT host, country, is_bot, sketch FROM "+vis+" WHERE level = ? AND bucket >= ? AND bucket < ?", lv-1, b, end)
	if err != nil {
		return err
	}
	groups := map[sketchKey]*sketch{}
	for rows.Next() {
		k := sketchKey{level: lv, bucket: b.Unix()}
		var sk []byte
		if err := rows.Scan(&k.host, &k.country, &k.isBot, &sk); err != nil {
			rows.Close()
			return err
		}
		if err := sketchOf(groups, k).merge(sk); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+vis+" WHERE level = ? AND bucket = ?", lv, b); err != nil {
		return err
	}
	keys := sortedKeys(groups, func(a, b sketchKey) int {
		return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.country, b.country), cmp.Compare(a.isBot, b.isBot))
	})
	return upsert(ctx, tx, "INSERT INTO "+vis+" (level, bucket, host, country, is_bot, sketch) VALUES ", "(?,?,?,?,?,?)", "", len(keys),
		func(i int, args []any) []any {
			k := keys[i]
			return append(args, k.level, b, k.host, k.country, k.isBot, groups[k].encode())
		})
}

// allDims and allBots name every dimension and bot class, so that a
// statement on one bucket of the top table reads a range of its primary
// key (dim, is_bot, level, bucket, ...) per pair instead of the whole
// table.
var allDims = func() string {
	var b strings.Builder
	b.WriteString("dim IN (")
	for d := DimPath; d <= DimRespTime; d++ {
		if d > DimPath {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(d))
	}
	return b.String() + ")"
}()

var allBots = fmt.Sprintf("is_bot IN (%d, %d, %d, %d)", botNo, botYes, botUnknown, botAny)

// viewBots names the bot classes of filter-key rows (all but botAny).
var viewBots = fmt.Sprintf("is_bot IN (%d, %d, %d)", botNo, botYes, botUnknown)

// bucketKey names a bucket of a level.
type bucketKey struct {
	level  int
	bucket int64
}

// dirtyBuckets returns the marked hours and days of [from, to): a reader
// reads them from the level below.
func (s *Store) dirtyBuckets(ctx context.Context, from, to time.Time) (map[bucketKey]bool, error) {
	rows, err := s.DB.QueryContext(ctx, "SELECT level, bucket FROM "+s.rollupTable(dirtySuffix)+" WHERE bucket >= ? AND bucket < ?",
		from.UTC().Truncate(24*time.Hour), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("read marked buckets: %w", err)
	}
	defer rows.Close()
	out := map[bucketKey]bool{}
	for rows.Next() {
		var k bucketKey
		var b time.Time
		if err := rows.Scan(&k.level, &b); err != nil {
			return nil, err
		}
		k.bucket = b.Unix()
		out[k] = true
	}
	return out, rows.Err()
}

// DeriveRollups folds every pending batch and derives every marked hour
// and day, quiet or not: for checks, benchmarks and the end of a run,
// when nothing else is writing.
func (s *Store) DeriveRollups(ctx context.Context) (int, error) {
	if _, err := s.FoldRollups(ctx); err != nil {
		return 0, err
	}
	return s.compactRollups(ctx, 0, -1, foldWait)
}
