package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
)

// rebuildChunk is how many clean rows one rebuild transaction reads.
const rebuildChunk = 20000

// RebuildRollups recomputes the rollups from clean_log: every bucket from
// the start of since's day (UTC) on, or all of them when since is zero.
// Clean consumers should be stopped meanwhile: a batch they commit during
// the rebuild may be counted twice. It returns the rows counted.
func (s *Store) RebuildRollups(ctx context.Context, since time.Time) (int64, error) {
	var from time.Time
	del, args := "", []any(nil)
	if !since.IsZero() {
		from = since.UTC().Truncate(24 * time.Hour)
		del, args = " WHERE bucket >= ?", []any{from}
	}
	// Pending batches before since must be counted where they belong.
	if _, err := s.FoldRollups(ctx); err != nil {
		return 0, err
	}
	for _, t := range s.rollupTables() {
		if t == s.rollupTable(pendingSuffix) {
			continue
		}
		if _, err := s.DB.ExecContext(ctx, "DELETE FROM "+t+del, args...); err != nil {
			return 0, fmt.Errorf("clear %s: %w", t, err)
		}
	}
	cond := ""
	if !from.IsZero() {
		cond = " AND (c.ts >= ? OR (c.ts IS NULL AND c.received_at >= ?))"
	}
	q := "SELECT c.id, c.received_at, c.ts, c.remote_addr, c.host, c.server_name, c.path, c.status, c.bytes, c.bytes_sent," +
		" c.request_time, c.referrer, c.user_agent, c.country, c.is_bot, c.bot_name, c.ua_family, c.ua_os, c.device, COALESCE(src.host, '')" +
		" FROM " + s.clean + " c LEFT JOIN " + QuoteIdent(SourcesTable) + " src ON src.id = c.source_id" +
		" WHERE c.id > ?" + cond + " ORDER BY c.id LIMIT ?"
	var total int64
	after := make([]byte, 16)
	for {
		args := []any{after}
		if !from.IsZero() {
			args = append(args, from, from)
		}
		ru, last, n, err := s.rebuildChunk(ctx, q, append(args, rebuildChunk))
		if err != nil {
			return total, err
		}
		if n == 0 {
			// Hours and days as a fold leaves them: derived from the minutes.
			_, err := s.compactRollups(ctx, 0, -1, foldWait)
			return total, err
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.upsertRollup(ctx, tx, ru.expand()); err != nil {
				return err
			}
			return s.markDirty(ctx, tx, ru)
		})
		if err != nil {
			return total, err
		}
		total += int64(n)
		after = last
	}
}

func (s *Store) rebuildChunk(ctx context.Context, q string, args []any) (*rollup, []byte, int, error) {
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read %s: %w", s.cleanName, err)
	}
	defer rows.Close()
	ru := newRollup()
	var last []byte
	n := 0
	for rows.Next() {
		var (
			r                                                  clean.Row
			id                                                 []byte
			ts                                                 sql.NullTime
			host, server, path, ref, ua, country, bot, fam, os sql.NullString
			device                                             sql.NullString
			status                                             sql.NullInt64
			bytes, sent                                        sql.NullInt64
			rt                                                 sql.NullFloat64
			isBot                                              sql.NullBool
		)
		if err := rows.Scan(&id, &r.ReceivedAt, &ts, &r.RemoteAddr, &host, &server, &path, &status, &bytes, &sent,
			&rt, &ref, &ua, &country, &isBot, &bot, &fam, &os, &device, &r.SourceHost); err != nil {
			return nil, nil, 0, fmt.Errorf("read %s: %w", s.cleanName, err)
		}
		r.ID = record.ID(id)
		if ts.Valid {
			r.Time = &ts.Time
		}
		r.Host, r.ServerName, r.Path, r.Referrer, r.UserAgent = nullStr(host), nullStr(server), nullStr(path), nullStr(ref), nullStr(ua)
		r.Country, r.BotName, r.UAFamily, r.UAOS, r.Device = nullStr(country), nullStr(bot), nullStr(fam), nullStr(os), nullStr(device)
		if status.Valid {
			st := int(status.Int64)
			r.Status = &st
		}
		if bytes.Valid {
			r.Bytes = &bytes.Int64
		}
		if sent.Valid {
			r.BytesSent = &sent.Int64
		}
		if rt.Valid {
			r.RequestTime = &rt.Float64
		}
		if isBot.Valid {
			r.IsBot = &isBot.Bool
		}
		ru.add(&r)
		last = id
		n++
	}
	return ru, last, n, rows.Err()
}

func nullStr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
