package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// How the rollups stay exact: the clean rows and what they add to the
// rollups commit in one transaction, and the rollups count a row only if
// that transaction inserted it. The insert reports how many rows it
// inserted (a duplicate id affects none); in the common case that is the
// whole batch and nothing else is needed. When it is not (a re-delivered
// line, a retried batch, a competing consumer that got there first), the
// transaction is rolled back, the ids already stored are read, and the
// rest is written again, until a transaction inserts every row it tries.
// A competitor's uncommitted row makes our insert wait for its commit and
// then count as a duplicate, under REPEATABLE READ and READ COMMITTED
// alike, so a row is counted by exactly one transaction. Deadlocks between
// competing consumers (the same hot minute rows) roll back the whole
// transaction and are retried by inTx.

var errDuplicates = errors.New("the batch holds rows already stored")

// maxRollupAttempts bounds the retries of one batch for duplicates found
// (inTx already retries deadlocks and lost nodes); past it the error goes to the consumer, which retries the
// batch later.
const maxRollupAttempts = 10

// writeCleanRollups stores rows and their rollups.
func (s *Store) writeCleanRollups(ctx context.Context, src cleanRows) error {
	visits := func(tx *sql.Tx) error { return s.assignVisits(ctx, tx, src.rows, src.visits) }
	if s.noRollups {
		return s.write(ctx, s.cleanIns, src, visits, nil)
	}
	for attempt := 1; ; attempt++ {
		// The rollup is made, and stored, before the visitors are locked:
		// it does not depend on visit ids, and every moment between the
		// lock and the commit is a moment a competing batch of the same
		// visitors waits (the tail of the latency at a steady rate).
		ru := newRollup()
		for i := range src.rows {
			ru.add(&src.rows[i])
		}
		delta := ru.encode()
		before := func(tx *sql.Tx) error {
			if err := s.addPending(ctx, tx, delta); err != nil {
				return err
			}
			return visits(tx)
		}
		err := s.write(ctx, s.cleanIns, src, before, func(tx *sql.Tx, inserted int64) error {
			if inserted != int64(src.len()) {
				return errDuplicates
			}
			return nil
		})
		switch {
		case err == nil:
			s.kickFold()
			return nil
		case attempt >= maxRollupAttempts:
			return err
		case errors.Is(err, errDuplicates):
			if src, err = s.unstored(ctx, src); err != nil {
				return err
			}
			if src.len() == 0 {
				return nil
			}
		default:
			return err
		}
	}
}

// foldEvery is how often a writer's process folds the pending rollups.
const foldEvery = time.Second

// folder folds the pending rollups in the background, at most once per
// foldEvery and only after this process wrote, so a batch's commit never
// waits for a fold (which upserts a second of batches and would hold
// the consumer, and every line behind it, for as long).
type folder struct {
	avgDelta atomic.Int64 // bytes of the pending rows last folded, on average

	start  sync.Once
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// kickFold asks the background folder for a fold, starting it the first
// time.
func (s *Store) kickFold() {
	f := &s.folder
	f.start.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		f.kick, f.cancel, f.done = make(chan struct{}, 1), cancel, make(chan struct{})
		go s.foldLoop(ctx)
	})
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (s *Store) foldLoop(ctx context.Context) {
	defer close(s.folder.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.folder.kick:
		}
		// A failure is only logged: the rows stay pending and the next
		// fold adds them.
		if _, err := s.fold(ctx, 0); err != nil && ctx.Err() == nil {
			s.log.Warn("fold rollups", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(foldEvery):
		}
	}
}

// stopFolding stops the background folder and folds once more, for at most
// foldGrace, so what this process wrote is in the tables when it exits.
func (s *Store) stopFolding() {
	f := &s.folder
	f.start.Do(func() {}) // no folder starts after this
	if f.cancel == nil {
		return // this process never wrote
	}
	f.cancel()
	<-f.done
	ctx, cancel := context.WithTimeout(context.Background(), foldGrace)
	defer cancel()
	// What it wrote last is quiet now: derive its hours and days too, so
	// a reader after a `run --once` reads them, not their minutes.
	if _, err := s.DeriveRollups(ctx); err != nil {
		s.log.Warn("fold rollups at exit; the next folder adds the rest", "err", err)
	}
}

// foldGrace bounds the fold at exit.
const foldGrace = 5 * time.Second

// unstored returns the rows of src whose ids clean_log does not hold, each
// id once (a batch may carry a line twice).
func (s *Store) unstored(ctx context.Context, src cleanRows) (cleanRows, error) {
	have := map[[16]byte]bool{}
	const chunk = 1000
	for lo := 0; lo < src.len(); lo += chunk {
		hi := min(lo+chunk, src.len())
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, src.rows[i].ID[:])
		}
		rows, err := s.DB.QueryContext(ctx, "SELECT id FROM "+s.clean+" WHERE id IN ("+placeholders(hi-lo)+")", args...)
		if err != nil {
			return cleanRows{}, fmt.Errorf("read stored ids: %w", err)
		}
		for rows.Next() {
			var id []byte
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return cleanRows{}, err
			}
			have[[16]byte(id)] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return cleanRows{}, err
		}
	}
	var out cleanRows
	for i := range src.rows {
		if !have[src.rows[i].ID] {
			have[src.rows[i].ID] = true
			out.rows = append(out.rows, src.rows[i])
			out.sources = append(out.sources, src.sources[i])
			out.visits = append(out.visits, visitID{})
		}
	}
	return out, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// upsertBatch is how many rows one rollup statement carries.
const upsertBatch = 1000

// upsertRollup adds ru to the tables in tx. Rows go in primary-key order,
// so two transactions lock shared rows in the same order.
func (s *Store) upsertRollup(ctx context.Context, tx *sql.Tx, ru *rollup) error {
	tk := sortedKeys(ru.traffic, func(a, b trafficKey) int {
		return cmp.Or(cmp.Compare(a.level, b.level), cmp.Compare(a.bucket, b.bucket), cmp.Compare(a.host, b.host),
			cmp.Compare(a.status, b.status), cmp.Compare(a.country, b.country), cmp.Compare(a.isBot, b.isBot))
	})
	err := upsert(ctx, tx, "INSERT INTO "+s.rollupTable(trafficSuffix)+" (level, bucket, host, status, country, is_bot, requests, bytes) VALUES ",
		"(?,?,?,?,?,?,?,?)", " ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests), bytes = bytes + VALUES(bytes)",
		len(tk), func(i int, args []any) []any {
			k := tk[i]
			v := ru.traffic[k]
			return append(args, k.level, bucketTime(k.bucket), k.host, k.status, k.country, k.isBot, v.requests, v.bytes)
		})
	if err != nil {
		return fmt.Errorf("rollup traffic: %w", err)
	}
	pk := sortedKeys(ru.top, func(a, b topKey) int {
		return cmp.Or(cmp.Compare(a.dim, b.dim), cmp.Compare(a.isBot, b.isBot), cmp.Compare(a.level, b.level), cmp.Compare(a.bucket, b.bucket),
			cmp.Compare(a.host, b.host), cmp.Compare(a.statusClass, b.statusClass), cmp.Compare(a.country, b.country), cmp.Compare(a.vhash, b.vhash))
	})
	err = upsert(ctx, tx, "INSERT INTO "+s.rollupTable(topSuffix)+" (dim, level, bucket, host, status_class, country, is_bot, vhash, value, n) VALUES ",
		"(?,?,?,?,?,?,?,?,?,?)", " ON DUPLICATE KEY UPDATE n = n + VALUES(n)",
		len(pk), func(i int, args []any) []any {
			k := pk[i]
			v := ru.top[k]
			return append(args, k.dim, k.level, bucketTime(k.bucket), k.host, k.statusClass, k.country, k.isBot, hashBytes(k.vhash), v.value, v.n)
		})
	if err != nil {
		return fmt.Errorf("rollup top entries: %w", err)
	}
	if err := s.mergeVisitors(ctx, tx, ru); err != nil {
		return fmt.Errorf("rollup visitors: %w", err)
	}
	return nil
}

// sketchKey is a row of the visitors table.
type sketchKey struct {
	level         uint8
	bucket        int64
	host, country string
	isBot         uint8
}

// mergeVisitors merges the registers of ru into the stored sketches: it
// reads them locked, merges in Go and writes them back. Only one
// transaction folds at a time (see foldOnce), so none is lost.
func (s *Store) mergeVisitors(ctx context.Context, tx *sql.Tx, ru *rollup) error {
	groups := map[sketchKey]*sketch{}
	for k, rho := range ru.visitors {
		sk := sketchKey{k.level, k.bucket, k.host, k.country, k.isBot}
		sketchOf(groups, sk).set(k.reg, rho)
	}
	keys := sortedKeys(groups, func(a, b sketchKey) int {
		return cmp.Or(cmp.Compare(a.level, b.level), cmp.Compare(a.bucket, b.bucket), cmp.Compare(a.host, b.host),
			cmp.Compare(a.country, b.country), cmp.Compare(a.isBot, b.isBot))
	})
	table := s.rollupTable(visitorsSuffix)
	const chunk = 200
	for lo := 0; lo < len(keys); lo += chunk {
		hi := min(lo+chunk, len(keys))
		args := make([]any, 0, 5*(hi-lo))
		for _, k := range keys[lo:hi] {
			args = append(args, k.level, bucketTime(k.bucket), k.host, k.country, k.isBot)
		}
		rows, err := tx.QueryContext(ctx, "SELECT level, bucket, host, country, is_bot, sketch FROM "+table+
			" WHERE (level, bucket, host, country, is_bot) IN ("+strings.TrimSuffix(strings.Repeat("(?,?,?,?,?),", hi-lo), ",")+") FOR UPDATE", args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k sketchKey
			var b time.Time
			var sk []byte
			if err := rows.Scan(&k.level, &b, &k.host, &k.country, &k.isBot, &sk); err != nil {
				rows.Close()
				return err
			}
			k.bucket = b.Unix()
			if g := groups[k]; g != nil {
				if err := g.merge(sk); err != nil {
					rows.Close()
					return err
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return upsert(ctx, tx, "INSERT INTO "+table+" (level, bucket, host, country, is_bot, sketch) VALUES ",
		"(?,?,?,?,?,?)", " ON DUPLICATE KEY UPDATE sketch = VALUES(sketch)",
		len(keys), func(i int, args []any) []any {
			k := keys[i]
			return append(args, k.level, bucketTime(k.bucket), k.host, k.country, k.isBot, groups[k].encode())
		})
}

// sketchOf is the sketch of k in groups, a new one the first time.
func sketchOf(groups map[sketchKey]*sketch, k sketchKey) *sketch {
	g := groups[k]
	if g == nil {
		g = new(sketch)
		groups[k] = g
	}
	return g
}

func bucketTime(unix int64) time.Time { return time.Unix(unix, 0).UTC() }

func hashBytes(h uint64) []byte { return binary.BigEndian.AppendUint64(nil, h) }

// upsert runs prefix group,group,... suffix over n rows, upsertBatch rows
// a statement; row appends row i's arguments.
func upsert(ctx context.Context, tx *sql.Tx, prefix, group, suffix string, n int, row func(i int, args []any) []any) error {
	var sb strings.Builder
	var args []any
	for lo := 0; lo < n; lo += upsertBatch {
		hi := min(lo+upsertBatch, n)
		sb.Reset()
		sb.WriteString(prefix)
		args = args[:0]
		for i := lo; i < hi; i++ {
			if i > lo {
				sb.WriteByte(',')
			}
			sb.WriteString(group)
			args = row(i, args)
		}
		sb.WriteString(suffix)
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
