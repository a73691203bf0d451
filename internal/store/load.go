package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

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

// write stores the rows of args in one transaction, by LOAD DATA when the
// store is set to and the batch is large enough, else by INSERT.
func (s *Store) write(ctx context.Context, ins inserter, args []any, sizes []int) error {
	if s.loadData.Load() && len(sizes) >= minLoadRows {
		err := s.inTx(ctx, func(tx *sql.Tx) error { return ins.load(ctx, tx, args) })
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
	return s.inTx(ctx, func(tx *sql.Tx) error { return ins.exec(ctx, tx, args, sizes, s.maxStmt) })
}

// load streams the rows as text to LOAD DATA LOCAL INFILE.
func (in inserter) load(ctx context.Context, tx *sql.Tx, args []any) error {
	var buf bytes.Buffer
	buf.Grow(len(args) * 16)
	for i, a := range args {
		if err := appendField(&buf, a); err != nil {
			return err
		}
		if (i+1)%in.ncols == 0 {
			buf.WriteByte('\n')
		} else {
			buf.WriteByte('\t')
		}
	}
	name := "datastream-" + strconv.FormatUint(loadSeq.Add(1), 10)
	data := buf.Bytes()
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(data) })
	defer mysql.DeregisterReaderHandler(name)
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' IGNORE INTO TABLE " + in.table +
		" CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + in.cols + ")"
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return err
	}
	var warnings int
	if err := tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return err
	}
	if warnings > 0 {
		return errLoadWarnings
	}
	return nil
}

// appendField writes one value in LOAD DATA's default escaping: \N is
// NULL; backslash, tab, newline and NUL are escaped.
func appendField(b *bytes.Buffer, a any) error {
	switch v := a.(type) {
	case nil:
		b.WriteString(`\N`)
	case []byte:
		if v == nil {
			b.WriteString(`\N`)
			return nil
		}
		escape(b, v)
	case string:
		escapeString(b, v)
	case *string:
		if v == nil {
			b.WriteString(`\N`)
		} else {
			escapeString(b, *v)
		}
	case bool:
		if v {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	case *bool:
		if v == nil {
			b.WriteString(`\N`)
		} else {
			return appendField(b, *v)
		}
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case *int:
		if v == nil {
			b.WriteString(`\N`)
		} else {
			b.WriteString(strconv.Itoa(*v))
		}
	case *int64:
		if v == nil {
			b.WriteString(`\N`)
		} else {
			b.WriteString(strconv.FormatInt(*v, 10))
		}
	case *uint16:
		if v == nil {
			b.WriteString(`\N`)
		} else {
			b.WriteString(strconv.FormatUint(uint64(*v), 10))
		}
	case *float64:
		if v == nil {
			b.WriteString(`\N`)
		} else {
			b.WriteString(strconv.FormatFloat(*v, 'g', -1, 64))
		}
	case time.Time:
		b.WriteString(v.UTC().Format("2006-01-02 15:04:05.999999"))
	case *time.Time:
		if v == nil {
			b.WriteString(`\N`)
		} else {
			b.WriteString(v.UTC().Format("2006-01-02 15:04:05.999999"))
		}
	default:
		return fmt.Errorf("LOAD DATA: no text form for %T", a)
	}
	return nil
}

func escape(b *bytes.Buffer, v []byte) {
	for _, c := range v {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
}

func escapeString(b *bytes.Buffer, v string) {
	if !strings.ContainsAny(v, "\\\t\n\x00") {
		b.WriteString(v)
		return
	}
	escape(b, []byte(v))
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
