package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Match picks the rows of one top entry the user clicked: Field is the
// panel's name (see MatchFields), Value its value as the panel shows it.
type Match struct {
	Field string
	Value string
}

// MatchFields maps a drill-down field to its condition on clean_log.
var MatchFields = map[string]string{
	"path":     "c.path = ?",
	"notfound": "c.path = ? AND c.status = 404",
	"addr":     "c.remote_addr = ?",
	"referrer": "c.referrer LIKE CONCAT('%://', ?, '%')",
	"browser":  "COALESCE(c.ua_family, '') = ?",
	"os":       "COALESCE(c.ua_os, '') = ?",
	"device":   "COALESCE(c.device, '') = ?",
	"bot":      "c.is_bot AND COALESCE(c.bot_name, '') = ?",
}

// Line is one row of the drill-down table: the raw line and when.
type Line struct {
	Time   time.Time `json:"time"`
	Status int       `json:"status"`
	Line   string    `json:"line"`
}

// LatestLines returns the newest raw lines of the rows in f's range that
// match m (m.Field "" matches every row), newest first. It reads
// clean_log backwards along its time index, so it is cheap for common
// values and bounded by the range for rare ones.
func (s *Store) LatestLines(ctx context.Context, f Filter, m Match, limit int) ([]Line, error) {
	w := &where{}
	w.add("c.ts >= ? AND c.ts < ?", f.From, f.To)
	if m.Field != "" {
		cond, ok := MatchFields[m.Field]
		if !ok {
			return nil, fmt.Errorf("no such field %q", m.Field)
		}
		w.add(cond, m.Value)
	}
	if f.Status != 0 {
		w.add("c.status BETWEEN ? AND ?", f.Status*100, f.Status*100+99)
	}
	switch f.Country {
	case "":
	case "unknown":
		w.add("c.country IS NULL")
	default:
		w.add("c.country = ?", f.Country)
	}
	switch f.Bots {
	case "only":
		w.add("c.is_bot")
	case "exclude":
		w.add("NOT COALESCE(c.is_bot, FALSE)")
	}
	if f.Host != "" {
		w.add("(c.host = ? OR c.server_name = ?)", f.Host, f.Host)
	}
	q := "SELECT c.ts, COALESCE(c.status, 0), COALESCE(r.line, '') FROM " + s.clean + " c LEFT JOIN " + s.raw +
		" r ON r.id = c.id WHERE " + w.sb.String() + " ORDER BY c.ts DESC LIMIT ?"
	rows, err := s.DB.QueryContext(ctx, q, append(w.args, max(limit, 1))...)
	if err != nil {
		return nil, fmt.Errorf("read latest lines: %w", err)
	}
	defer rows.Close()
	out := []Line{}
	for rows.Next() {
		var l Line
		var ts sql.NullTime
		var line []byte
		if err := rows.Scan(&ts, &l.Status, &line); err != nil {
			return nil, err
		}
		l.Time = ts.Time.UTC()
		l.Line = string(line)
		out = append(out, l)
	}
	return out, rows.Err()
}
