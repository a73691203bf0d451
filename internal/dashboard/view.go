// Package dashboard serves `datastream dashboard`: one page, its JSON API
// and live updates over Server-Sent Events, all read from the rollups in
// the database (never from the pipeline), and the same summary for
// `datastream report`.
package dashboard

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/store"
)

// Data is what the dashboard reads: the store's rollup queries.
type Data interface {
	Bounds(ctx context.Context) (first, last time.Time, ok bool, err error)
	NewestTime(ctx context.Context) (time.Time, error)
	Totals(ctx context.Context, f store.Filter) (store.Totals, error)
	Series(ctx context.Context, f store.Filter) (time.Duration, []store.Point, error)
	Top(ctx context.Context, f store.Filter, dim, limit int) ([]store.Entry, error)
	Group(ctx context.Context, f store.Filter, col string, limit int) ([]store.Entry, error)
	RespTimes(ctx context.Context, f store.Filter) (store.Percentiles, error)
	LatestLines(ctx context.Context, f store.Filter, m store.Match, limit int) ([]store.Line, error)
	RollupVersion(ctx context.Context) (string, error)
	FoldRollups(ctx context.Context) (int, error)
}

var _ Data = (*store.Store)(nil)

// Ranges are the windows a view may ask for; "all" and "custom" besides.
var Ranges = map[string]time.Duration{
	"15m": 15 * time.Minute,
	"1h":  time.Hour,
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
}

// View is what the URL asks for, resolved against the data: the range
// in whole minutes and the filters. The page, the API and the report
// share it, so a URL means the same everywhere.
type View struct {
	Range    string    `json:"range"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Anchored bool      `json:"anchored"` // "last N" counts back from the newest line, not from now
	Host     string    `json:"host,omitempty"`
	Status   string    `json:"status,omitempty"`
	Country  string    `json:"country,omitempty"`
	Bots     string    `json:"bots,omitempty"`
	Field    string    `json:"field,omitempty"`
	Value    string    `json:"value,omitempty"`
	Limit    int       `json:"limit"`

	filter store.Filter
}

// BadRequest is a parameter the API refuses (400).
type BadRequest struct{ msg string }

func (e *BadRequest) Error() string { return e.msg }

func bad(format string, args ...any) error { return &BadRequest{fmt.Sprintf(format, args...)} }

// parseTime reads a custom bound: RFC 3339, or a date and time in UTC.
func parseTime(name, v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, bad("%s: %q is not a time (use RFC 3339, e.g. 2026-01-02T15:04:05Z, or 2026-01-02)", name, v)
}

// Resolve reads a view from URL parameters, at now.
func Resolve(ctx context.Context, d Data, q url.Values, now time.Time) (View, error) {
	for k := range q {
		switch k {
		case "range", "from", "to", "host", "status", "country", "bots", "field", "value", "limit", "token":
		default:
			return View{}, bad("unknown parameter %q", k)
		}
	}
	v := View{Range: q.Get("range"), Host: q.Get("host"), Status: q.Get("status"), Country: q.Get("country"), Bots: q.Get("bots"),
		Field: q.Get("field"), Value: q.Get("value"), Limit: 10}
	if v.Range == "" {
		v.Range = "24h"
	}
	if l := q.Get("limit"); l != "" {
		if _, err := fmt.Sscanf(l, "%d", &v.Limit); err != nil || v.Limit < 1 || v.Limit > 1000 {
			return View{}, bad("limit: %q is not a number from 1 to 1000", l)
		}
	}
	f := store.Filter{Host: v.Host, Country: v.Country}
	switch v.Status {
	case "":
	case "1xx", "2xx", "3xx", "4xx", "5xx":
		f.Status = int(v.Status[0] - '0')
	default:
		return View{}, bad("status: %q is not one of 1xx, 2xx, 3xx, 4xx, 5xx", v.Status)
	}
	if v.Country != "" && v.Country != "unknown" && (len(v.Country) != 2 || strings.ToUpper(v.Country) != v.Country) {
		return View{}, bad("country: %q is not a two-letter code (upper case) or unknown", v.Country)
	}
	switch v.Bots {
	case "", "all":
		v.Bots = ""
	case "only", "exclude":
		f.Bots = v.Bots
	default:
		return View{}, bad("bots: %q is not one of all, only, exclude", v.Bots)
	}
	if _, ok := store.MatchFields[v.Field]; v.Field != "" && !ok {
		return View{}, bad("field: %q is not one of path, notfound, addr, referrer, browser, os, device, bot", v.Field)
	}
	if len(v.Host) > 255 || len(v.Value) > 4096 {
		return View{}, bad("host or value too long")
	}

	first, last, ok, err := d.Bounds(ctx)
	if err != nil {
		return View{}, err
	}
	end := now.UTC().Truncate(time.Minute).Add(time.Minute) // the current minute is in
	switch v.Range {
	case "all":
		f.From, f.To = end, end
		if ok {
			f.From, f.To = first, last.Add(time.Minute)
		}
	case "custom":
		if f.From, err = parseTime("from", q.Get("from")); err != nil {
			return View{}, err
		}
		if f.To, err = parseTime("to", q.Get("to")); err != nil {
			return View{}, err
		}
		f.From = f.From.Truncate(time.Minute)
		if t := f.To.Truncate(time.Minute); t.Before(f.To) {
			f.To = t.Add(time.Minute)
		}
		if !f.From.Before(f.To) {
			return View{}, bad("from must be before to")
		}
	default:
		w, err := rangeWindow(v.Range)
		if err != nil {
			return View{}, err
		}
		if ok && last.Add(time.Minute).Before(end.Add(-w)) {
			// Nothing in the window: count back from the newest line, so an
			// old log shows at once.
			end, v.Anchored = last.Add(time.Minute), true
		}
		f.From, f.To = end.Add(-w), end
	}
	v.From, v.To, v.filter = f.From, f.To, f
	return v, nil
}

// rangeWindow reads "last N": one of Ranges, any Go duration of whole
// minutes (90m, 36h) or a number of days (30d).
func rangeWindow(r string) (time.Duration, error) {
	if w, ok := Ranges[r]; ok {
		return w, nil
	}
	w, err := time.ParseDuration(r)
	if days, ok := strings.CutSuffix(r, "d"); ok && err != nil {
		var n int
		if _, err2 := fmt.Sscanf(days, "%d", &n); err2 == nil && fmt.Sprint(n) == days {
			w, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil || w < time.Minute || w%time.Minute != 0 || w > 100*365*24*time.Hour {
		return 0, bad("range: %q is not one of 15m, 1h, 24h, 7d, all, custom, or whole minutes (90m) or days (30d)", r)
	}
	return w, nil
}

// Filter is the store filter of the view.
func (v View) Filter() store.Filter { return v.filter }
