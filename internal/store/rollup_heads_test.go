package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// Hours and days are read by their heads: a top list over them has the
// 1,000 heaviest values of each bucket, with their exact counts, while the
// rows (heads and tails) stay exact and days are derived from both.
func TestTopReadsHeads(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var rows []clean.Row
	add := func(path string, at time.Time) {
		p, status := path, 200
		rows = append(rows, clean.Row{ID: record.NewID([8]byte{7}, int64(len(rows))), SourceHost: "src", SourcePath: "/l",
			ReceivedAt: at, Time: &at, RemoteAddr: "192.0.2.1", Path: &p, Status: &status, LogFormat: "test"})
	}
	// Hour 10: 1,200 paths once, /heavy 3 times, /second twice.
	for i := range 1200 {
		add(fmt.Sprintf("/once/%d", i), start.Add(time.Duration(i)*2*time.Second))
	}
	for i := range 3 {
		add("/heavy", start.Add(time.Duration(i)*time.Minute))
	}
	add("/second", start.Add(5*time.Minute))
	add("/second", start.Add(6*time.Minute))
	// Hour 11: a few more, so the day sums two hours.
	add("/heavy", start.Add(61*time.Minute))
	add("/once/7", start.Add(62*time.Minute))
	if err := st.WriteClean(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeriveRollups(ctx); err != nil {
		t.Fatal(err)
	}
	checkExact(t, st) // days from heads and tails: every path's count exact

	day := start.Truncate(24 * time.Hour)
	// /once/7's second request is in hour 11; in hour 10 it may be a tail,
	// but the day is derived from heads and tails and counts it twice.
	hourFirst := []store.Entry{{Value: "/heavy", N: 3}, {Value: "/second", N: 2}}
	for _, c := range []struct {
		name  string
		f     store.Filter
		n     int
		first []store.Entry
	}{
		{"an hour, every view", store.Filter{From: start, To: start.Add(time.Hour)}, 1000, hourFirst},
		{"an hour, filtered", store.Filter{From: start, To: start.Add(time.Hour), Status: 2, Bots: "exclude"}, 1000, hourFirst},
		{"the day", store.Filter{From: day, To: day.Add(24 * time.Hour)}, 1000, []store.Entry{{Value: "/heavy", N: 4}, {Value: "/once/7", N: 2}, {Value: "/second", N: 2}}},
		// Minutes are exact: every value of 10:00-10:59.
		{"minutes", store.Filter{From: start, To: start.Add(59 * time.Minute)}, 1202, hourFirst},
	} {
		top, err := st.Top(ctx, c.f, store.DimPath, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(top) != c.n {
			t.Errorf("%s: %d values, want %d", c.name, len(top), c.n)
			continue
		}
		for i, want := range c.first {
			if top[i] != want {
				t.Errorf("%s: entry %d is %+v, want %+v", c.name, i, top[i], want)
			}
		}
		for _, e := range top[len(c.first):] {
			if e.N != 1 {
				t.Errorf("%s: %+v: a value seen once counted %d", c.name, e, e.N)
			}
		}
	}
}
