package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// inserter writes rows with multi-row INSERT statements, each kept under the
// server's max_allowed_packet, all inside one transaction. Duplicates of an
// existing id are no-ops, which makes every write idempotent; unlike INSERT
// IGNORE this does not also hide bad data as warnings.
type inserter struct {
	prefix string   // INSERT INTO t (cols) VALUES
	suffix string   // ON DUPLICATE KEY UPDATE ...
	group  string   // (?,?,...)
	table  string   // quoted, for LOAD DATA
	quoted []string // quoted column names
}

func newInserter(table string, cols []string) inserter {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = QuoteIdent(c)
	}
	return inserter{
		prefix: "INSERT INTO " + table + " (" + strings.Join(q, ",") + ") VALUES ",
		suffix: " ON DUPLICATE KEY UPDATE id = id",
		group:  "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")",
		table:  table,
		quoted: q,
	}
}

// exec inserts the rows of src in as few statements as fit in maxStmt and
// returns how many were new (a duplicate's "id = id" affects no row).
func (in inserter) exec(ctx context.Context, tx *sql.Tx, src rowSource, maxStmt int) (int64, error) {
	var inserted int64
	a := collect(src, len(in.quoted))
	args, sizes, ncols := a.args, a.sizes, len(in.quoted)
	rows := len(sizes)
	var sb strings.Builder
	for start := 0; start < rows; {
		end, bytes := start, len(in.prefix)+len(in.suffix)
		for end < rows && (end == start || bytes+sizes[end] <= maxStmt) {
			bytes += sizes[end] + len(in.group) + 1
			end++
		}
		sb.Reset()
		sb.Grow(len(in.prefix) + (end-start)*(len(in.group)+1) + len(in.suffix))
		sb.WriteString(in.prefix)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			sb.WriteString(in.group)
		}
		sb.WriteString(in.suffix)
		res, err := tx.ExecContext(ctx, sb.String(), args[start*ncols:end*ncols]...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		inserted += n
		start = end
	}
	return inserted, nil
}

// inTx runs f in a transaction and commits it. A deadlock, a Galera
// certification conflict or a node lost mid-transaction runs it again
// (see Retryable) a few times before the error goes up to the consumer,
// which retries the batch with backoff.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	return retry(ctx, func() error { return s.inTxOnce(ctx, f) })
}

// retry runs f again while it fails with a Retryable error, up to
// txAttempts times, with a short growing pause.
func retry(ctx context.Context, f func() error) error {
	pause := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt == txAttempts || !Retryable(err) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause *= 2
	}
}

// txAttempts bounds retry: 20+40+...+320 ms of pauses, about the time a
// Galera cluster takes to drop a node that stopped answering.
const txAttempts = 6

func (s *Store) inTxOnce(ctx context.Context, f func(tx *sql.Tx) error) error {
	return txOn(ctx, s.DB, nil, f)
}

// txOn runs f in a transaction begun on db (a pool or one connection)
// and commits it.
func txOn(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, opts *sql.TxOptions, f func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
