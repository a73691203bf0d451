package store

import (
	"context"
	"fmt"
	"sort"
)

// CheckRollups compares the rollups with clean_log itself, at every
// level: requests and bytes per bucket and status, and requests per
// bucket and path. It returns the differences found (at most a few), none
// when the rollups are exact. It scans clean_log: for tests and
// `datastream rollup --check`, not for the dashboard.
func (s *Store) CheckRollups(ctx context.Context) ([]string, error) {
	// Every level is compared, so every hour and day is derived first.
	if _, err := s.DeriveRollups(ctx); err != nil {
		return nil, err
	}
	var diffs []string
	formats := [numLevels]string{"%Y-%m-%d %H:%i:00", "%Y-%m-%d %H:00:00", "%Y-%m-%d 00:00:00"}
	for lv := range numLevels {
		when := "DATE_FORMAT(COALESCE(ts, received_at), '" + formats[lv] + "')"
		want, err := s.checkCounts(ctx, "SELECT "+when+", COALESCE(status, 0), COUNT(*), SUM(COALESCE(bytes, bytes_sent, 0)) FROM "+s.clean+" GROUP BY 1, 2")
		if err != nil {
			return nil, err
		}
		got, err := s.checkCounts(ctx, "SELECT DATE_FORMAT(bucket, '%Y-%m-%d %H:%i:%s'), status, SUM(requests), SUM(bytes) FROM "+s.rollupTable(trafficSuffix)+" WHERE level = ? GROUP BY 1, 2", lv)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, compareCounts(fmt.Sprintf("level %d traffic", lv), want, got)...)
		want, err = s.checkCounts(ctx, "SELECT "+when+", path, COUNT(*), 0 FROM "+s.clean+" WHERE path <> '' AND CHAR_LENGTH(path) <= 255 GROUP BY 1, 2")
		if err != nil {
			return nil, err
		}
		// The rows by filter keys, and the rows of any (botAny), each
		// count every row.
		for _, op := range []string{"<>", "="} {
			got, err = s.checkCounts(ctx, "SELECT DATE_FORMAT(bucket, '%Y-%m-%d %H:%i:%s'), value, SUM(n), 0 FROM "+s.rollupTable(topSuffix)+" WHERE dim = ? AND level = ? AND value <> '' AND is_bot "+op+" ? GROUP BY 1, 2", DimPath, lv, botAny)
			if err != nil {
				return nil, err
			}
			diffs = append(diffs, compareCounts(fmt.Sprintf("level %d paths (is_bot %s any)", lv, op), want, got)...)
		}
		if len(diffs) > 10 {
			return diffs[:10], nil
		}
	}
	return diffs, nil
}

type countKey struct{ bucket, key string }

func (s *Store) checkCounts(ctx context.Context, q string, args ...any) (map[countKey][2]int64, error) {
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("check rollups: %w", err)
	}
	defer rows.Close()
	out := map[countKey][2]int64{}
	for rows.Next() {
		var k countKey
		var v [2]int64
		if err := rows.Scan(&k.bucket, &k.key, &v[0], &v[1]); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

func compareCounts(what string, want, got map[countKey][2]int64) []string {
	var diffs []string
	for k, w := range want {
		if got[k] != w {
			diffs = append(diffs, fmt.Sprintf("%s %s %q: clean_log has %v, rollups %v", what, k.bucket, k.key, w, got[k]))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s %q: rollups have %v, clean_log nothing", what, k.bucket, k.key, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}
