package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"
)

// A batch's rollup is stored as one pending row in the batch's
// transaction and folded into the tables later with many others: the
// upserts of a batch touch several rows per line (every dimension at
// three levels, under its filter keys and under any), while a fold of a
// second's batches touches each value once. The pending row holds minute
// rows under their own filter keys only (see rollup_delta.go); the fold
// expands them. Folding deletes the pending rows it adds in the same
// transaction, and competing folders take disjoint rows (SKIP LOCKED),
// so each batch is added exactly once.

// addPending stores a rollup's encoding as a pending row in tx.
func (s *Store) addPending(ctx context.Context, tx *sql.Tx, delta []byte) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO "+s.rollupTable(pendingSuffix)+" (delta) VALUES (?)", delta)
	return err
}

// foldBatch is the most pending rows one fold takes, foldBytes about the
// most bytes of them it merges (a batch of 5,000 rows is about 700 kB).
// Merged and expanded in maps, a byte of pending rows takes about 13 in
// memory: at 16 MB the fold a consumer ran at exit held 250 MB, and a
// backlog's folds keep their transactions short anyway.
const (
	foldBatch = 500
	foldBytes = 1 << 20
)

// FoldRollups adds the pending batches to the rollup tables, foldBatch
// at a time, until none is left, then derives the hours and days that
// have been quiet for compactIdle (a few at a time); it returns how many
// batches it folded. When another connection is folding it waits for it
// (up to foldWait), so what was committed before the call is counted when
// it returns: the dashboard and the report call it before they read.
func (s *Store) FoldRollups(ctx context.Context) (int, error) {
	return s.fold(ctx, foldWait)
}

// foldWait bounds how long FoldRollups waits for another folder.
const foldWait = 30 * time.Second

// fold is FoldRollups waiting at most wait for the fold lock; the clean
// consumers' background folder does not wait (0): whoever holds the lock
// folds their batches too.
func (s *Store) fold(ctx context.Context, wait time.Duration) (int, error) {
	total := 0
	for {
		n, more, err := s.foldOnce(ctx, wait)
		total += n
		if err != nil {
			return total, err
		}
		if !more {
			break
		}
	}
	_, err := s.compactRollups(ctx, compactIdle, compactMax, wait)
	return total, err
}

// withFoldLock runs f on a connection holding the fold lock, and not at
// all (ok false) when another connection holds it for longer than wait:
// one folder at a time, as the visitors' sketches are read, merged and
// written back.
func (s *Store) withFoldLock(ctx context.Context, wait time.Duration, f func(conn *sql.Conn) error) (ok bool, err error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	// MySQL limits lock names to 64 characters.
	sum := sha256.Sum256([]byte(s.dbName + "." + s.cleanName))
	lock := "datastream_fold_" + hex.EncodeToString(sum[:16])
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", lock, wait.Seconds()).Scan(&got); err != nil {
		return false, err
	}
	if got.Int64 != 1 {
		return false, nil // another process is folding: it adds these rows
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", lock) //nolint:errcheck
	return true, f(conn)
}

func (s *Store) foldOnce(ctx context.Context, wait time.Duration) (n int, more bool, err error) {
	_, err = s.withFoldLock(ctx, wait, func(conn *sql.Conn) error {
		return inConnTx(ctx, conn, func(tx *sql.Tx) error {
			n, more = 0, false
			limit := s.foldLimit()
			rows, err := tx.QueryContext(ctx, "SELECT id, delta FROM "+s.rollupTable(pendingSuffix)+" ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED", limit)
			if err != nil {
				return err
			}
			ru := newRollup()
			var ids []any
			size := 0
			for rows.Next() {
				if size >= foldBytes {
					// Enough for one transaction: memory stays bounded when
					// the folder is behind (a backfill); the rest is locked
					// until the commit and folded next.
					more = true
					break
				}
				var id int64
				var b []byte
				if err := rows.Scan(&id, &b); err != nil {
					rows.Close()
					return err
				}
				if err := ru.merge(b); err != nil {
					rows.Close()
					return fmt.Errorf("pending rollup %d: %w", id, err)
				}
				ids = append(ids, id)
				size += len(b)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			if err := s.upsertRollup(ctx, tx, ru.expand()); err != nil {
				return err
			}
			if err := s.markDirty(ctx, tx, ru); err != nil {
				return err
			}
			n = len(ids)
			more = more || n == limit
			s.folder.avgDelta.Store(int64(size / n))
			_, err = tx.ExecContext(ctx, "DELETE FROM "+s.rollupTable(pendingSuffix)+" WHERE id IN ("+placeholders(len(ids))+")", ids...)
			return err
		})
	})
	if err != nil {
		return 0, false, fmt.Errorf("fold rollups: %w", err)
	}
	return n, more, nil
}

// inConnTx is inTx on one connection, at READ COMMITTED: the fold's
// locking read of the pending rows then locks those rows only, not the
// gap after the last one, where every clean batch inserts its own; at
// REPEATABLE READ each batch's commit waited for the fold.
func inConnTx(ctx context.Context, conn *sql.Conn, f func(tx *sql.Tx) error) error {
	return txOn(ctx, conn, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, f)
}

// foldLimit is how many pending rows a fold takes: foldBatch, or fewer
// when the last ones averaged more than foldBytes/foldBatch, so a fold
// does not read hundreds of megabytes to merge sixteen.
func (s *Store) foldLimit() int {
	avg := s.folder.avgDelta.Load()
	if avg <= 0 {
		return foldBatch
	}
	return int(min(foldBatch, max(1, foldBytes/avg+1)))
}
