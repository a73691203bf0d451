package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// LOAD DATA LOCAL INFILE from an in-memory stream: the server parses tab
// separated text instead of a long INSERT, which is cheaper for large
// batches. With LOCAL the server cannot stop the stream, so duplicate keys
// and bad values become warnings: a duplicate is what idempotence wants,
// but a bad value must not be stored silently. So when a load leaves any
// warning, its transaction is rolled back and the batch is written again
// with INSERT, which refuses bad values as errors (and isolates them).

// minLoadRows is the smallest batch worth a LOAD DATA.
const minLoadRows = 32

var (
	loadSeq         atomic.Uint64
	errLoadWarnings = errors.New("LOAD DATA left warnings")
)

// afterWrite runs in a batch's transaction once its rows are written, with
// the number of rows the write inserted (duplicates of stored rows are not
// counted).
type afterWrite func(tx *sql.Tx, inserted int64) error

// write stores the rows of src in one transaction, by LOAD DATA when the
// store is set to and the batch is large enough, else by INSERT. before,
// when not nil, runs first in the same transaction; after, when not nil,
// runs in it before it commits.
func (s *Store) write(ctx context.Context, ins inserter, src rowSource, before func(tx *sql.Tx) error, after afterWrite) error {
	// store runs before, the statement of one method and after in one
	// transaction.
	store := func(stmt func(tx *sql.Tx) (int64, error)) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if before != nil {
				if err := before(tx); err != nil {
					return err
				}
			}
			n, err := stmt(tx)
			if err != nil || after == nil {
				return err
			}
			return after(tx, n)
		})
	}
	if s.loadData.Load() && src.len() >= minLoadRows {
		err := store(func(tx *sql.Tx) (int64, error) { return ins.load(ctx, tx, src) })
		if loadRefused(err) {
			s.loadData.Store(false)
			s.log.Warn("the server refuses LOAD DATA LOCAL (local_infile=OFF?); writing with INSERT from now on", "err", err)
			err = errLoadWarnings
		}
		if !errors.Is(err, errLoadWarnings) {
			if err == nil {
				s.loads.Add(1)
			}
			return err
		}
		s.loadFallbacks.Add(1)
	}
	return store(func(tx *sql.Tx) (int64, error) { return ins.exec(ctx, tx, src, s.maxStmt) })
}

// loadBufs keeps LOAD DATA text buffers between batches: they are the
// consumers' largest allocation.
var loadBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 16 << 20

// load streams the rows as text to LOAD DATA LOCAL INFILE. Columns that
// are NULL in every row are left out of the statement: each of them is
// nullable with a NULL default, so the row is the same and the server does
// less work (a log format fills only some of clean_log's columns).
func (in inserter) load(ctx context.Context, tx *sql.Tx, src rowSource) (int64, error) {
	ncols := len(in.quoted)
	skip := nullColumns(src, ncols)
	cols := make([]string, 0, ncols)
	for i, c := range in.quoted {
		if !skip[i] {
			cols = append(cols, c)
		}
	}
	bp := loadBufs.Get().(*[]byte)
	w := &textWriter{buf: (*bp)[:0], ncols: ncols, skip: skip}
	for i := range src.len() {
		src.row(w, i)
	}
	data := w.buf
	defer func() {
		if cap(data) <= maxPooled {
			*bp = data[:0]
			loadBufs.Put(bp)
		}
	}()
	name := "datastream-" + strconv.FormatUint(loadSeq.Add(1), 10)
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(data) })
	defer mysql.DeregisterReaderHandler(name)
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' IGNORE INTO TABLE " + in.table +
		" CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + strings.Join(cols, ",") + ")"
	res, err := tx.ExecContext(ctx, q)
	if err != nil {
		return 0, err
	}
	var warnings int
	if err := tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return 0, err
	}
	if warnings > 0 {
		return 0, errLoadWarnings
	}
	return res.RowsAffected()
}

// LoadCounts reports how many batches LOAD DATA stored, and how many it
// handed to INSERT because the load left warnings (duplicates or bad values).
func (s *Store) LoadCounts() (loads, fallbacks int64) {
	return s.loads.Load(), s.loadFallbacks.Load()
}

// loadRefused reports whether err says the server does not allow LOAD
// DATA LOCAL at all.
func loadRefused(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1148, // the used command is not allowed (local_infile=OFF)
		3948, // MySQL 8: loading local data is disabled
		2068: // LOAD DATA LOCAL INFILE file request rejected
		return true
	}
	return false
}
