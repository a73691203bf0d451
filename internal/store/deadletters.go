package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/record"
)

// deadTable is the quoted name of the table of dead-lettered line ids: the
// clean table's name with _dead_letters.
func (s *Store) deadTable() string { return QuoteIdent(s.cleanName + "_dead_letters") }

// DeadLetterOnce dead-letters each of the lines ids once, whoever delivers
// it and however often. In one transaction it inserts every id not recorded
// before (the insert locks the row: a concurrent claim of the same id, by
// another writer or another consumer, waits until this one commits or rolls
// back), calls publish with the ids it inserted (maybe none), and commits
// only when publish returned nil. A crash or a failed publish rolls the
// claim back, so the next delivery publishes again. When the commit fails
// after the publish (the database went away), the ids are recorded again
// without the claim, retried until ctx ends, rather than published again by
// the next delivery. Only a crash between the broker's confirm and the
// record, or a confirm lost with the connection, repeats a dead letter, and
// the repeat carries the same message id.
func (s *Store) DeadLetterOnce(ctx context.Context, ids []record.ID, publish func(fresh []record.ID) error) error {
	ids = slices.Clone(ids)
	// One order for every claimant, so two never wait on each other.
	slices.SortFunc(ids, func(a, b record.ID) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("dead letters: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, "INSERT IGNORE INTO "+s.deadTable()+" (id) VALUES (?)")
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	defer stmt.Close()
	fresh := ids[:0:0]
	for _, id := range ids {
		res, err := stmt.ExecContext(ctx, id[:])
		if err != nil {
			return fmt.Errorf("dead letters: claim %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("dead letters: claim %s: %w", id, err)
		} else if n == 1 {
			fresh = append(fresh, id)
		}
	}
	if err := publish(fresh); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.recordDeadLetters(ctx, fresh, fmt.Errorf("dead letters: commit: %w", err))
	}
	return nil
}

// recordDeadLetters records ids that are in the dead-letter queue although
// their claim did not commit: it retries until it succeeds or ctx ends, and
// then returns cause with the last error.
func (s *Store) recordDeadLetters(ctx context.Context, ids []record.ID, cause error) error {
	wait := 50 * time.Millisecond
	for {
		err := s.insertDeadLetters(ctx, ids)
		if err == nil {
			s.log.Warn("dead letters recorded after their claim failed to commit", "ids", len(ids), "cause", cause)
			return nil
		}
		s.log.Warn("recording published dead letters failed; will retry", "ids", len(ids), "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; recording them again: %w", cause, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// insertDeadLetters records ids, those recorded before included.
func (s *Store) insertDeadLetters(ctx context.Context, ids []record.ID) error {
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		args := make([]any, n)
		for i := range n {
			args[i] = ids[i][:]
		}
		q := "INSERT IGNORE INTO " + s.deadTable() + " (id) VALUES " + strings.TrimSuffix(strings.Repeat("(?),", n), ",")
		if _, err := s.DB.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// DeadLetterIDs returns every line id recorded as dead-lettered.
func (s *Store) DeadLetterIDs(ctx context.Context) ([]record.ID, error) {
	rows, err := s.DB.QueryContext(ctx, "SELECT id FROM "+s.deadTable())
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	defer rows.Close()
	var out []record.ID
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		if len(id) != len(record.ID{}) {
			return nil, fmt.Errorf("read dead letters: id of %d bytes", len(id))
		}
		out = append(out, record.ID(id))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}
