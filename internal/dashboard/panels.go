package dashboard

import (
	"context"
	"time"

	"github.com/datastream/datastream/internal/store"
)

// Panel is one list of top entries. Clicking an entry either drills
// into its lines (Field) or filters the whole view (Param).
type Panel struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Field string `json:"field,omitempty"` // drill-down field of store.MatchFields
	Param string `json:"param,omitempty"` // or the view parameter it sets
	dim   int
	group string
}

// Panels in the order the page and the report show them.
var Panels = []Panel{
	{Name: "paths", Title: "Top paths", Field: "path", dim: store.DimPath},
	{Name: "notfound", Title: "Top 404s", Field: "notfound", dim: store.DimNotFound},
	{Name: "addresses", Title: "Client addresses", Field: "addr", dim: store.DimAddr},
	{Name: "referrers", Title: "Referring sites", Field: "referrer", dim: store.DimReferrer},
	{Name: "browsers", Title: "Browsers", Field: "browser", dim: store.DimBrowser},
	{Name: "os", Title: "Operating systems", Field: "os", dim: store.DimOS},
	{Name: "devices", Title: "Devices", Field: "device", dim: store.DimDevice},
	{Name: "countries", Title: "Countries", Param: "country", group: store.GroupCountry},
	{Name: "people", Title: "Bots vs people", Param: "bots", group: store.GroupBot},
	{Name: "bots", Title: "Bots", Field: "bot", dim: store.DimBot},
	{Name: "hosts", Title: "Hosts", Param: "host", group: store.GroupHost},
}

func panelByName(name string) (Panel, bool) {
	for _, p := range Panels {
		if p.Name == name {
			return p, true
		}
	}
	return Panel{}, false
}

// Entry is a top entry as shown: the value a click filters by, and the
// label shown ("unknown" for a value enrichment has not filled).
type Entry struct {
	Value string `json:"value"`
	Label string `json:"label"`
	N     int64  `json:"n"`
}

// Entries reads a panel's top entries.
func (p Panel) Entries(ctx context.Context, d Data, v View) ([]Entry, error) {
	var es []store.Entry
	var err error
	if p.group != "" {
		es, err = d.Group(ctx, v.filter, p.group, v.Limit)
	} else {
		es, err = d.Top(ctx, v.filter, p.dim, v.Limit)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{Value: e.Value, Label: e.Value, N: e.N}
		if e.Value == "" {
			out[i].Value, out[i].Label = "unknown", "unknown"
			if p.Field != "" {
				out[i].Value = ""
			}
		}
		if p.group == store.GroupBot {
			out[i].Value = map[string]string{"bot": "only", "person": "exclude", "unknown": "exclude"}[e.Value]
		}
	}
	return out, nil
}

// Overview is the head of the page.
type Overview struct {
	store.Totals
	ErrorRate float64    `json:"error_rate"` // 4xx and 5xx over requests
	PerSecond float64    `json:"requests_per_second"`
	Newest    *time.Time `json:"newest"` // the newest line's time, nil when there is none
	LagSecs   float64    `json:"lag_seconds"`
}

// Overview reads the overview of a view at now: requests per second are
// those of the last whole minute of the range.
func overview(ctx context.Context, d Data, v View, now time.Time) (Overview, error) {
	var o Overview
	var err error
	if o.Totals, err = d.Totals(ctx, v.filter); err != nil {
		return o, err
	}
	if o.Requests > 0 {
		o.ErrorRate = float64(o.ByClass[4]+o.ByClass[5]) / float64(o.Requests)
	}
	last := v.filter
	last.From, last.To = v.To.Add(-2*time.Minute), v.To.Add(-time.Minute)
	if last.From.Before(v.From) {
		last.From = v.From
	}
	t, err := d.Totals(ctx, last)
	if err != nil {
		return o, err
	}
	o.PerSecond = float64(t.Requests) / 60
	newest, err := d.NewestTime(ctx)
	if err != nil {
		return o, err
	}
	if !newest.IsZero() {
		o.Newest = &newest
		o.LagSecs = now.Sub(newest).Seconds()
	}
	return o, nil
}

// Summary is everything the page shows at once: what `datastream report`
// prints and `report --json` writes.
type Summary struct {
	View      View               `json:"view"`
	Overview  Overview           `json:"overview"`
	RespTimes store.Percentiles  `json:"response_times"`
	Panels    map[string][]Entry `json:"panels"`
}

// Summarize reads a view's summary.
func Summarize(ctx context.Context, d Data, v View, now time.Time) (Summary, error) {
	s := Summary{View: v, Panels: map[string][]Entry{}}
	var err error
	if s.Overview, err = overview(ctx, d, v, now); err != nil {
		return s, err
	}
	if s.RespTimes, err = d.RespTimes(ctx, v.filter); err != nil {
		return s, err
	}
	for _, p := range Panels {
		if s.Panels[p.Name], err = p.Entries(ctx, d, v); err != nil {
			return s, err
		}
	}
	return s, nil
}
