package store

import (
	"strconv"
	"time"
)

// rowWriter receives one row's values in column order. The LOAD DATA text
// and the INSERT arguments both implement it, so each table's column order
// is written once (rawRows.row, cleanRows.row) and cannot drift between
// the two.
type rowWriter interface {
	null()
	bytes(b []byte) // nil is NULL
	text(s string)
	int(v int64)
	uint(v uint64)
	float(v float64)
	bool(v bool)
	time(t time.Time)
}

// rowSource is a batch of rows of one table.
type rowSource interface {
	len() int
	// row writes row i to w.
	row(w rowWriter, i int)
}

func optText(w rowWriter, s *string) {
	if s == nil {
		w.null()
	} else {
		w.text(*s)
	}
}

func optInt(w rowWriter, v *int64) {
	if v == nil {
		w.null()
	} else {
		w.int(*v)
	}
}

func optFloat(w rowWriter, v *float64) {
	if v == nil {
		w.null()
	} else {
		w.float(*v)
	}
}

func optBool(w rowWriter, v *bool) {
	if v == nil {
		w.null()
	} else {
		w.bool(*v)
	}
}

func optTime(w rowWriter, t *time.Time) {
	if t == nil {
		w.null()
	} else {
		w.time(*t)
	}
}

// argWriter collects INSERT arguments, and each row's estimated size in
// the statement so a statement can be kept under max_allowed_packet.
type argWriter struct {
	args  []any
	sizes []int
	size  int
}

func (a *argWriter) add(v any, n int) {
	a.args = append(a.args, v)
	a.size += 8 + n
}

func (a *argWriter) null() { a.add(nil, 4) }
func (a *argWriter) bytes(b []byte) {
	if b == nil {
		a.null()
		return
	}
	a.add(b, 2*len(b)+2) // escaping can double binary data
}
func (a *argWriter) text(s string)    { a.add(s, 2*len(s)+2) }
func (a *argWriter) int(v int64)      { a.add(v, 20) }
func (a *argWriter) uint(v uint64)    { a.add(v, 20) }
func (a *argWriter) float(v float64)  { a.add(v, 24) }
func (a *argWriter) bool(v bool)      { a.add(v, 1) }
func (a *argWriter) time(t time.Time) { a.add(t, 28) }

// collect writes every row of src as INSERT arguments.
func collect(src rowSource, ncols int) *argWriter {
	a := &argWriter{args: make([]any, 0, src.len()*ncols), sizes: make([]int, src.len())}
	for i := range src.len() {
		a.size = 0
		src.row(a, i)
		a.sizes[i] = a.size
	}
	return a
}

// textWriter writes rows as LOAD DATA text in its default escaping: fields
// end with a tab, rows with a newline, \N is NULL, and backslash, tab and
// newline are escaped. NUL needs no escape on input (SELECT ... INTO
// OUTFILE writes \0 for pagers), and ids are full of zero bytes. skip
// leaves out the columns absent from the statement's column list (see
// nullColumns).
type textWriter struct {
	buf   []byte
	col   int
	ncols int
	skip  []bool
}

func (t *textWriter) field() bool {
	c := t.col
	t.col++
	return t.skip == nil || !t.skip[c]
}

func (t *textWriter) end() {
	if t.col == t.ncols {
		t.buf[len(t.buf)-1] = '\n'
		t.col = 0
	}
}

func (t *textWriter) null() {
	if t.field() {
		t.buf = append(t.buf, '\\', 'N', '\t')
	}
	t.end()
}

func (t *textWriter) bytes(b []byte) {
	if b == nil {
		t.null()
		return
	}
	if t.field() {
		t.buf = append(appendEscaped(t.buf, b), '\t')
	}
	t.end()
}

func (t *textWriter) text(s string) {
	if t.field() {
		t.buf = append(appendEscaped(t.buf, s), '\t')
	}
	t.end()
}

// appendEscaped appends b in LOAD DATA's escaping. It takes a string or
// bytes so a text column is not copied into a []byte first.
func appendEscaped[T string | []byte](dst []byte, b T) []byte {
	for {
		i := 0
		for i < len(b) && b[i] != '\\' && b[i] != '\t' && b[i] != '\n' {
			i++
		}
		dst = append(dst, b[:i]...)
		if i == len(b) {
			return dst
		}
		switch b[i] {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'n')
		}
		b = b[i+1:]
	}
}

func (t *textWriter) int(v int64) {
	if t.field() {
		t.buf = append(strconv.AppendInt(t.buf, v, 10), '\t')
	}
	t.end()
}

func (t *textWriter) uint(v uint64) {
	if t.field() {
		t.buf = append(strconv.AppendUint(t.buf, v, 10), '\t')
	}
	t.end()
}

func (t *textWriter) float(v float64) {
	if t.field() {
		t.buf = append(strconv.AppendFloat(t.buf, v, 'g', -1, 64), '\t')
	}
	t.end()
}

func (t *textWriter) bool(v bool) {
	if t.field() {
		c := byte('0')
		if v {
			c = '1'
		}
		t.buf = append(t.buf, c, '\t')
	}
	t.end()
}

func (t *textWriter) time(v time.Time) {
	if t.field() {
		t.buf = append(appendDatetime(t.buf, v), '\t')
	}
	t.end()
}

// appendDatetime writes t in UTC as YYYY-MM-DD HH:MM:SS.ffffff, the text
// a DATETIME(6) column reads, without time.Format's generality.
func appendDatetime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, "2006-01-02 15:04:05.999999")
	}
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, ' ')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	us := t.Nanosecond() / 1000
	b = append(b, '.')
	b = append2(b, us/10000)
	b = append2(b, us/100%100)
	return append2(b, us%100)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
func append4(b []byte, v int) []byte { return append2(append2(b, v/100), v%100) }

// nullWriter finds the columns that are NULL in every row of a batch; a
// LOAD DATA leaves them out of its column list, so the server neither
// reads nor stores a value for them (their default is NULL).
type nullWriter struct {
	col  int    // column of the row being written, reset per row
	seen []bool // a value was written in this column
}

func (n *nullWriter) null() { n.col++ }
func (n *nullWriter) val() {
	n.seen[n.col] = true
	n.col++
}
func (n *nullWriter) bytes(b []byte) {
	if b == nil {
		n.null()
	} else {
		n.val()
	}
}
func (n *nullWriter) text(string)    { n.val() }
func (n *nullWriter) int(int64)      { n.val() }
func (n *nullWriter) uint(uint64)    { n.val() }
func (n *nullWriter) float(float64)  { n.val() }
func (n *nullWriter) bool(bool)      { n.val() }
func (n *nullWriter) time(time.Time) { n.val() }

// nullColumns reports, per column, whether every row of src is NULL there.
func nullColumns(src rowSource, ncols int) []bool {
	n := &nullWriter{seen: make([]bool, ncols)}
	for i := range src.len() {
		n.col = 0
		src.row(n, i)
	}
	for i := range n.seen {
		n.seen[i] = !n.seen[i]
	}
	return n.seen
}
