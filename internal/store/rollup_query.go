package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Filter selects the rows a panel counts. From and To are whole minutes
// (rollups count minutes); the zero Filter counts nothing.
type Filter struct {
	From, To time.Time // [From, To)
	Host     string    // "" for every host
	Status   int       // status class 1-5, 0 for every status
	Country  string    // "" for every country, "unknown" for none
	Bots     string    // "" for everyone, "only" or "exclude"
}

// piece is a part of a range read at one level: whole buckets [from, to).
type piece struct {
	level    int
	from, to time.Time
}

// pieces splits [from, to) into as few whole buckets as it can, at most
// maxLevel: whole days in the middle, then whole hours, then minutes at
// the edges. So any range costs at most a few hundred bucket rows per key
// besides its days. A bucket in dirty (not derived yet from the level
// below, see rollup_compact.go) is read from the level below.
func pieces(from, to time.Time, maxLevel int, dirty map[bucketKey]bool) []piece {
	if !from.Before(to) {
		return nil
	}
	if maxLevel == LevelMinute {
		return []piece{{LevelMinute, from, to}}
	}
	size := levelSize[maxLevel]
	lo := from.Truncate(size)
	if lo.Before(from) {
		lo = lo.Add(size)
	}
	hi := to.Truncate(size)
	if !lo.Before(hi) {
		return pieces(from, to, maxLevel-1, dirty)
	}
	out := pieces(from, lo, maxLevel-1, dirty)
	run := lo
	if len(dirty) > 0 {
		for b := lo; b.Before(hi); b = b.Add(size) {
			if dirty[bucketKey{maxLevel, b.Unix()}] {
				out = appendPiece(out, piece{maxLevel, run, b})
				for _, p := range pieces(b, b.Add(size), maxLevel-1, dirty) {
					out = appendPiece(out, p)
				}
				run = b.Add(size)
			}
		}
	}
	out = appendPiece(out, piece{maxLevel, run, hi})
	for _, p := range pieces(hi, to, maxLevel-1, dirty) {
		out = appendPiece(out, p)
	}
	return out
}

// appendPiece appends p, joined to the last piece when they meet at the
// same level; an empty p is left out.
func appendPiece(out []piece, p piece) []piece {
	if !p.from.Before(p.to) {
		return out
	}
	if n := len(out); n > 0 && out[n-1].level == p.level && out[n-1].to.Equal(p.from) {
		out[n-1].to = p.to
		return out
	}
	return append(out, p)
}

// pieces is pieces of [from, to) with the buckets marked now.
func (s *Store) pieces(ctx context.Context, from, to time.Time, maxLevel int) ([]piece, error) {
	if !from.Before(to) {
		return nil, nil
	}
	dirty, err := s.dirtyBuckets(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return pieces(from, to, maxLevel, dirty), nil
}

// where is the WHERE clause of a filter over a rollup table: the pieces
// of its range and the filters that table has.
type where struct {
	sb   strings.Builder
	args []any
}

func (w *where) add(cond string, args ...any) {
	if w.sb.Len() > 0 {
		w.sb.WriteString(" AND ")
	}
	w.sb.WriteString(cond)
	w.args = append(w.args, args...)
}

func (w *where) rangeOf(ps []piece, heads bool) {
	cond := "(level = ? AND bucket >= ? AND bucket < ?)"
	if heads {
		cond = "(level = ? AND tail = 0 AND bucket >= ? AND bucket < ?)"
	}
	var parts []string
	var args []any
	for _, p := range ps {
		parts = append(parts, cond)
		args = append(args, p.level, p.from, p.to)
	}
	w.add("("+strings.Join(parts, " OR ")+")", args...)
}

// table names the columns a rollup table has; any: it has the rows of
// every filter key (botAny); heads: it has heads and tails (the top table,
// read by its heads).
type tableCols struct{ status, statusClass, any, heads bool }

func (f Filter) where(ps []piece, cols tableCols) *where {
	w := &where{}
	if cols.any {
		// The bot class first, as an equality or a list: the top table's
		// primary key is (dim, is_bot, level, bucket, ...), so the range
		// read is the rows of the view asked for, not every filter key's.
		if f.Host == "" && f.Status == 0 && f.Country == "" && f.Bots == "" {
			w.add("is_bot = ?", botAny)
			w.rangeOf(ps, cols.heads)
			w.add("host = '' AND country = ''")
			if cols.statusClass {
				w.add("status_class = ?", classAny)
			}
			return w
		}
		switch f.Bots {
		case "only":
			w.add("is_bot = ?", botYes)
		case "exclude":
			w.add("is_bot IN (?, ?)", botNo, botUnknown)
		default:
			w.add("is_bot IN (?, ?, ?)", botNo, botYes, botUnknown)
		}
	}
	w.rangeOf(ps, cols.heads)
	if f.Host != "" {
		w.add("host = ?", f.Host)
	}
	if f.Status != 0 {
		if cols.status {
			w.add("status BETWEEN ? AND ?", f.Status*100, f.Status*100+99)
		} else if cols.statusClass {
			w.add("status_class = ?", f.Status)
		}
	}
	switch f.Country {
	case "":
	case "unknown":
		w.add("country = ''")
	default:
		w.add("country = ?", f.Country)
	}
	if !cols.any {
		switch f.Bots {
		case "only":
			w.add("is_bot = ?", botYes)
		case "exclude":
			w.add("is_bot <> ?", botYes)
		}
	}
	return w
}

// Bounds returns the first and the last minute holding rows; ok is false
// when there is none.
func (s *Store) Bounds(ctx context.Context) (first, last time.Time, ok bool, err error) {
	var lo, hi sql.NullTime
	t := s.rollupTable(trafficSuffix)
	err = s.DB.QueryRowContext(ctx, "SELECT (SELECT MIN(bucket) FROM "+t+" WHERE level = 0), (SELECT MAX(bucket) FROM "+t+" WHERE level = 0)").Scan(&lo, &hi)
	if err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("read rollup bounds: %w", err)
	}
	if !lo.Valid || !hi.Valid {
		return time.Time{}, time.Time{}, false, nil
	}
	return lo.Time.UTC(), hi.Time.UTC(), true, nil
}

// NewestTime is the time of the newest row of clean_log (zero when empty).
func (s *Store) NewestTime(ctx context.Context) (time.Time, error) {
	var t sql.NullTime
	if err := s.DB.QueryRowContext(ctx, "SELECT MAX(ts) FROM "+s.clean).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("read newest time: %w", err)
	}
	return t.Time.UTC(), nil
}

// Totals is the overview of a filter's rows.
type Totals struct {
	Requests int64    `json:"requests"`
	Bytes    int64    `json:"bytes"`
	ByClass  [6]int64 `json:"by_class"` // index 0: no status, 1-5: 1xx-5xx
	Visitors int64    `json:"visitors"`
}

// Totals counts the requests, bytes, status classes and unique visitors.
func (s *Store) Totals(ctx context.Context, f Filter) (Totals, error) {
	var out Totals
	ps, err := s.pieces(ctx, f.From, f.To, LevelDay)
	if len(ps) == 0 || err != nil {
		return out, err
	}
	w := f.where(ps, tableCols{status: true})
	rows, err := s.DB.QueryContext(ctx, "SELECT status DIV 100, SUM(requests), SUM(bytes) FROM "+s.rollupTable(trafficSuffix)+" WHERE "+w.sb.String()+" GROUP BY 1", w.args...)
	if err != nil {
		return out, fmt.Errorf("read totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var class, n, b int64
		if err := rows.Scan(&class, &n, &b); err != nil {
			return out, err
		}
		if class >= 0 && class < 6 {
			out.ByClass[class] += n
		}
		out.Requests += n
		out.Bytes += b
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	v, err := s.visitors(ctx, f, ps)
	out.Visitors = v
	return out, err
}

// visitors estimates the unique (address, user agent, day) of a range from
// the merged sketch. The status filter does not apply to visitors.
func (s *Store) visitors(ctx context.Context, f Filter, ps []piece) (int64, error) {
	w := f.where(ps, tableCols{any: true})
	rows, err := s.DB.QueryContext(ctx, "SELECT sketch FROM "+s.rollupTable(visitorsSuffix)+" WHERE "+w.sb.String(), w.args...)
	if err != nil {
		return 0, fmt.Errorf("read visitors: %w", err)
	}
	defer rows.Close()
	var sk sketch
	found := false
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return 0, err
		}
		if err := sk.merge(b); err != nil {
			return 0, err
		}
		found = true
	}
	if err := rows.Err(); err != nil || !found {
		return 0, err
	}
	return int64(sk.estimate() + 0.5), nil
}

// Point is one step of the requests chart.
type Point struct {
	Time    time.Time `json:"time"`
	ByClass [6]int64  `json:"by_class"`
}

// SeriesStep is the step of the requests chart for a range: minutes up to
// 6 hours, hours up to 14 days, else days.
func SeriesStep(from, to time.Time) int {
	switch d := to.Sub(from); {
	case d <= 6*time.Hour:
		return LevelMinute
	case d <= 14*24*time.Hour:
		return LevelHour
	}
	return LevelDay
}

// Series returns requests per step (see SeriesStep) by status class, only
// the steps with requests.
func (s *Store) Series(ctx context.Context, f Filter) (step time.Duration, out []Point, err error) {
	lv := SeriesStep(f.From, f.To)
	step = levelSize[lv]
	ps, err := s.pieces(ctx, f.From, f.To, lv)
	if len(ps) == 0 || err != nil {
		return step, nil, err
	}
	w := f.where(ps, tableCols{status: true})
	rows, err := s.DB.QueryContext(ctx, "SELECT bucket, status DIV 100, SUM(requests) FROM "+s.rollupTable(trafficSuffix)+" WHERE "+w.sb.String()+" GROUP BY bucket, 2", w.args...)
	if err != nil {
		return step, nil, fmt.Errorf("read series: %w", err)
	}
	defer rows.Close()
	byTime := map[time.Time]*Point{}
	for rows.Next() {
		var b time.Time
		var class, n int64
		if err := rows.Scan(&b, &class, &n); err != nil {
			return step, nil, err
		}
		b = b.UTC().Truncate(step)
		p := byTime[b]
		if p == nil {
			p = &Point{Time: b}
			byTime[b] = p
		}
		if class >= 0 && class < 6 {
			p.ByClass[class] += n
		}
	}
	if err := rows.Err(); err != nil {
		return step, nil, err
	}
	for _, p := range byTime {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return step, out, nil
}

// Entry is a top entry: a value and its requests.
type Entry struct {
	Value string `json:"value"`
	N     int64  `json:"n"`
}

// Top returns the limit values of dim with the most requests. Hours and
// days are read by their heads (see topHead): a value's count misses what
// it had in the hours and days where it was not among the topHead heaviest
// of its view, at most the topHead-th count of each. Minutes are exact,
// and so is every list whose values were within each bucket's head.
func (s *Store) Top(ctx context.Context, f Filter, dim, limit int) ([]Entry, error) {
	ps, err := s.pieces(ctx, f.From, f.To, LevelDay)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return []Entry{}, nil
	}
	var q string
	var args []any
	if f.Country == "" {
		w := f.where(ps, tableCols{statusClass: true, any: true, heads: true})
		q = "SELECT MAX(value), SUM(n) FROM " + s.rollupTable(topSuffix) + " WHERE dim = ? AND " + w.sb.String()
		args = append([]any{dim}, w.args...)
	} else {
		// A country's hours and days from the table keyed by country
		// first (its heads), its minutes from the top table.
		var minutes, derived []piece
		for _, p := range ps {
			if p.level == LevelMinute {
				minutes = append(minutes, p)
			} else {
				derived = append(derived, p)
			}
		}
		var parts []string
		for _, t := range []struct {
			ps    []piece
			table string
		}{{minutes, s.rollupTable(topSuffix)}, {derived, s.rollupTable(countrySuffix)}} {
			if len(t.ps) > 0 {
				w := f.where(t.ps, tableCols{statusClass: true, any: true})
				parts = append(parts, "SELECT vhash, value, n FROM "+t.table+" WHERE dim = ? AND "+w.sb.String())
				args = append(append(args, dim), w.args...)
			}
		}
		q = "SELECT MAX(value), SUM(n) FROM (" + strings.Join(parts, " UNION ALL ") + ") t"
	}
	q += " GROUP BY vhash ORDER BY 2 DESC, 1"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	return s.entries(ctx, q, args)
}

func (s *Store) entries(ctx context.Context, q string, args []any) ([]Entry, error) {
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read top entries: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Value, &e.N); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Group columns of the traffic table a panel can list.
const (
	GroupHost    = "host"
	GroupCountry = "country"
	GroupBot     = "is_bot"
)

// Group returns requests by host, country or bot class (values "bot",
// "person", "unknown"), most first.
func (s *Store) Group(ctx context.Context, f Filter, col string, limit int) ([]Entry, error) {
	if col != GroupHost && col != GroupCountry && col != GroupBot {
		return nil, errors.New("no such group: " + col)
	}
	ps, err := s.pieces(ctx, f.From, f.To, LevelDay)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return []Entry{}, nil
	}
	w := f.where(ps, tableCols{status: true})
	sel := col
	if col == GroupBot {
		sel = "ELT(is_bot + 1, 'person', 'bot', 'unknown')"
	}
	q := "SELECT " + sel + ", SUM(requests) FROM " + s.rollupTable(trafficSuffix) + " WHERE " + w.sb.String() + " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?"
	return s.entries(ctx, q, append(w.args, max(limit, 1)))
}

// Percentiles of the response time ($request_time), in seconds, read from
// bins 10% wide; Count is how many requests had a time.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
}

// RespTimes returns the response-time percentiles of a filter's rows.
func (s *Store) RespTimes(ctx context.Context, f Filter) (Percentiles, error) {
	var p Percentiles
	bins, err := s.Top(ctx, f, DimRespTime, 0)
	if err != nil {
		return p, err
	}
	type bin struct {
		b int
		n int64
	}
	var bs []bin
	for _, e := range bins {
		var b int
		if _, err := fmt.Sscan(e.Value, &b); err == nil {
			bs = append(bs, bin{b, e.N})
			p.Count += e.N
		}
	}
	if p.Count == 0 {
		return p, nil
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].b < bs[j].b })
	at := func(q float64) float64 {
		want := int64(q*float64(p.Count) + 0.5)
		var seen int64
		for _, b := range bs {
			seen += b.n
			if seen >= want {
				return RespTimeBinUpper(b.b)
			}
		}
		return RespTimeBinUpper(bs[len(bs)-1].b)
	}
	p.P50, p.P90, p.P95, p.P99 = at(0.5), at(0.9), at(0.95), at(0.99)
	return p, nil
}

// RollupVersion changes whenever rows are counted: the dashboard polls it
// to tell its pages to refresh. It reads the day level and the marks
// (a few rows per day): every fold touches the marks of what it adds.
func (s *Store) RollupVersion(ctx context.Context) (string, error) {
	var n, marks sql.NullInt64
	var b, touched sql.NullTime
	if err := s.DB.QueryRowContext(ctx, "SELECT (SELECT SUM(requests) FROM "+s.rollupTable(trafficSuffix)+" WHERE level = ?), (SELECT MAX(bucket) FROM "+
		s.rollupTable(trafficSuffix)+" WHERE level = ?), (SELECT COUNT(*) FROM "+s.rollupTable(dirtySuffix)+"), (SELECT MAX(touched) FROM "+s.rollupTable(dirtySuffix)+")",
		LevelDay, LevelDay).Scan(&n, &b, &marks, &touched); err != nil {
		return "", fmt.Errorf("read rollup version: %w", err)
	}
	return fmt.Sprintf("%d-%d-%d-%d", n.Int64, b.Time.Unix(), marks.Int64, touched.Time.UnixNano()), nil
}
