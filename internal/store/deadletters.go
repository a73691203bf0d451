package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/datastream/datastream/internal/record"
)

// deadTable is the quoted name of the table of dead-lettered line ids: the
// clean table's name with _dead_letters.
func (s *Store) deadTable() string { return QuoteIdent(s.cleanName + "_dead_letters") }

// DeadLettered returns which of ids were recorded by RecordDeadLetters.
func (s *Store) DeadLettered(ctx context.Context, ids []record.ID) (map[record.ID]bool, error) {
	out := map[record.ID]bool{}
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		args := make([]any, n)
		for i := range n {
			args[i] = ids[i][:]
		}
		rows, err := s.DB.QueryContext(ctx, "SELECT id FROM "+s.deadTable()+" WHERE id IN ("+strings.TrimSuffix(strings.Repeat("?,", n), ",")+")", args...)
		if err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		for rows.Next() {
			var id []byte
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read dead letters: %w", err)
			}
			if len(id) == len(record.ID{}) {
				out[record.ID(id)] = true
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		ids = ids[n:]
	}
	return out, nil
}

// deadRows are line ids as rows of the dead-letter table.
type deadRows []record.ID

func (d deadRows) len() int               { return len(d) }
func (d deadRows) row(w rowWriter, i int) { w.bytes(d[i][:]) }

// RecordDeadLetters records that the lines ids are in the dead-letter queue.
func (s *Store) RecordDeadLetters(ctx context.Context, ids []record.ID) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.inTx(ctx, func(tx *sql.Tx) error { _, err := s.deadIns.exec(ctx, tx, deadRows(ids), s.maxStmt); return err }); err != nil {
		return fmt.Errorf("record %d dead letters: %w", len(ids), err)
	}
	return nil
}
