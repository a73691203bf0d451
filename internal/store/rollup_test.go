package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// cleanRows makes n rows over a few hours from a seeded source: varied
// paths, statuses, addresses and agents, some with enrichment filled.
func cleanRows(n int, seed uint64, start time.Time) []clean.Row {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]clean.Row, n)
	statuses := []int{200, 200, 200, 304, 404, 500, 301}
	for i := range out {
		t := start.Add(time.Duration(i) * 7 * time.Second)
		path := fmt.Sprintf("/p/%d", rng.IntN(40))
		st := statuses[rng.IntN(len(statuses))]
		b := int64(rng.IntN(5000))
		ua := fmt.Sprintf("agent-%d", rng.IntN(30))
		ref := fmt.Sprintf("https://ref%d.example/x", rng.IntN(5))
		host := "site.example"
		rt := float64(rng.IntN(2000)) / 1000
		r := clean.Row{
			ID: record.NewID([8]byte{byte(seed)}, int64(i)), SourceHost: "src", SourcePath: "/l",
			ReceivedAt: t, Time: &t, RemoteAddr: fmt.Sprintf("10.0.%d.%d", rng.IntN(4), rng.IntN(250)),
			Path: &path, Status: &st, Bytes: &b, UserAgent: &ua, Referrer: &ref, Host: &host, RequestTime: &rt,
			LogFormat: "test",
		}
		if i%3 == 0 {
			c, bot, fam := "FR", i%6 == 0, "Firefox"
			r.Country, r.IsBot, r.UAFamily = &c, &bot, &fam
			if bot {
				name := "Googlebot"
				r.BotName = &name
			}
		}
		out[i] = r
	}
	return out
}

func checkExact(t *testing.T, st *store.Store) {
	t.Helper()
	diffs, err := st.CheckRollups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

func TestRollupsIdempotentAndExact(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)
	rows := cleanRows(3000, 1, start) // six hours, over midnight
	// Batches that overlap, a whole batch written twice, single rows again.
	for _, b := range [][2]int{{0, 1000}, {500, 1500}, {1500, 3000}, {1500, 3000}, {10, 11}, {2999, 3000}} {
		if err := st.WriteClean(ctx, rows[b[0]:b[1]]); err != nil {
			t.Fatal(err)
		}
	}
	checkExact(t, st)

	f := store.Filter{From: start, To: start.Add(6 * time.Hour)}
	tot, err := st.Totals(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if tot.Requests != 3000 {
		t.Errorf("totals: %d requests, want 3000", tot.Requests)
	}
	var visitors int64
	if err := st.DB.QueryRow("SELECT COUNT(DISTINCT remote_addr, COALESCE(user_agent, ''), DATE(ts)) FROM clean_log").Scan(&visitors); err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(float64(tot.Visitors-visitors)) / float64(visitors); d > 0.02 {
		t.Errorf("visitors: %d, COUNT(DISTINCT) %d (%.1f%% off)", tot.Visitors, visitors, 100*d)
	}

	// Visitors of a filtered view read the rows by filter keys.
	people, err := st.Totals(ctx, store.Filter{From: start, To: start.Add(6 * time.Hour), Bots: "exclude"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB.QueryRow("SELECT COUNT(DISTINCT remote_addr, COALESCE(user_agent, ''), DATE(ts)) FROM clean_log WHERE NOT COALESCE(is_bot, FALSE)").Scan(&visitors); err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(float64(people.Visitors-visitors)) / float64(visitors); d > 0.02 || people.Visitors >= tot.Visitors {
		t.Errorf("visitors without bots: %d, COUNT(DISTINCT) %d, all %d", people.Visitors, visitors, tot.Visitors)
	}

	// A range cut inside minutes, hours and days equals SQL over it.
	from, to := start.Add(37*time.Minute), start.Add(5*time.Hour+11*time.Minute)
	f = store.Filter{From: from, To: to, Status: 4}
	tot, err = st.Totals(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log WHERE ts >= ? AND ts < ? AND status BETWEEN 400 AND 499", from, to).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if tot.Requests != want || want == 0 {
		t.Errorf("4xx from %v to %v: %d, SQL %d", from, to, tot.Requests, want)
	}
	top, err := st.Top(ctx, store.Filter{From: from, To: to, Bots: "only"}, store.DimBot, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log WHERE ts >= ? AND ts < ? AND is_bot", from, to).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[0].Value != "Googlebot" || top[0].N != want {
		t.Errorf("top bots = %v, want Googlebot %d", top, want)
	}

	// Rebuild gives the same rollups, and the same lists, a country's
	// (read from its own table over hours and days) among them.
	day := store.Filter{From: start.Truncate(24 * time.Hour), To: start.Truncate(24 * time.Hour).Add(48 * time.Hour), Country: "FR"}
	lists := func() string {
		var out []any
		for _, f := range []store.Filter{day, {From: day.From, To: day.To}} {
			top, err := st.Top(ctx, f, store.DimPath, 0)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, top)
		}
		return fmt.Sprint(out...)
	}
	before := lists()
	n, err := st.RebuildRollups(ctx, time.Time{})
	if err != nil || n != 3000 {
		t.Fatalf("rebuild: %d rows, %v", n, err)
	}
	checkExact(t, st)
	if got := lists(); got != before {
		t.Errorf("top paths after a rebuild:\n%s\nbefore:\n%s", got, before)
	}
	if _, err := st.RebuildRollups(ctx, start.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkExact(t, st)
	if got := lists(); got != before {
		t.Errorf("top paths after a rebuild since 3 h in:\n%s\nbefore:\n%s", got, before)
	}
}

func TestRollupsCompetingWriters(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	rows := cleanRows(4000, 2, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	// Four writers take overlapping batches of the same rows, all on the
	// same few minutes, as competing consumers given re-delivered lines.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := w * 100; lo < len(rows); lo += 400 {
				if err := st.WriteClean(ctx, rows[lo:min(lo+700, len(rows))]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	_, c, err := st.Count(ctx)
	if err != nil || c != 4000 {
		t.Fatalf("%d clean rows, %v", c, err)
	}
	checkExact(t, st)
}

func TestRollupQueriesEmpty(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	if _, _, ok, err := st.Bounds(ctx); ok || err != nil {
		t.Fatalf("bounds of an empty db: ok %v, %v", ok, err)
	}
	f := store.Filter{From: time.Unix(0, 0), To: time.Now().Truncate(time.Minute)}
	tot, err := st.Totals(ctx, f)
	if err != nil || tot.Requests != 0 || tot.Visitors != 0 {
		t.Fatalf("totals %v, %v", tot, err)
	}
	top, err := st.Top(ctx, f, store.DimPath, 10)
	if err != nil || len(top) != 0 {
		t.Fatalf("top %v, %v", top, err)
	}
}

// TestRollupsReadMarkedBuckets: hours and days not derived yet (marked by
// the fold) are read from their minutes, and read the same once derived.
func TestRollupsReadMarkedBuckets(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 21, 40, 0, 0, time.UTC)
	rows := cleanRows(4000, 3, start) // nearly eight hours, over midnight
	if err := st.WriteClean(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FoldRollups(ctx); err != nil {
		t.Fatal(err)
	}
	var marked int
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log_rollup_dirty").Scan(&marked); err != nil {
		t.Fatal(err)
	}
	// 21h-5h: nine hours and two days, all touched just now.
	if marked != 11 {
		t.Fatalf("%d hours and days marked, want 11", marked)
	}
	type view struct {
		tot    store.Totals
		top    []store.Entry
		series []store.Point
	}
	read := func(f store.Filter) view {
		var v view
		var err error
		if v.tot, err = st.Totals(ctx, f); err != nil {
			t.Fatal(err)
		}
		if v.top, err = st.Top(ctx, f, store.DimPath, 5); err != nil {
			t.Fatal(err)
		}
		if _, v.series, err = st.Series(ctx, f); err != nil {
			t.Fatal(err)
		}
		return v
	}
	filters := []store.Filter{
		{From: start.Truncate(24 * time.Hour), To: start.Add(48 * time.Hour)},
		{From: start.Add(17 * time.Minute), To: start.Add(7*time.Hour + 3*time.Minute), Status: 4},
		{From: start.Add(2 * time.Hour).Truncate(time.Hour), To: start.Add(5 * time.Hour).Truncate(time.Hour), Bots: "only"},
		// A country's hours and days come from the table keyed by country.
		{From: start.Truncate(24 * time.Hour), To: start.Add(48 * time.Hour), Country: "FR"},
		{From: start.Add(17 * time.Minute), To: start.Add(7*time.Hour + 3*time.Minute), Country: "unknown", Bots: "exclude"},
	}
	before := make([]view, len(filters))
	for i, f := range filters {
		before[i] = read(f)
		var want int64
		q := "SELECT COUNT(*) FROM clean_log WHERE ts >= ? AND ts < ?"
		if f.Status != 0 {
			q += " AND status BETWEEN 400 AND 499"
		}
		switch f.Bots {
		case "only":
			q += " AND is_bot"
		case "exclude":
			q += " AND (is_bot IS NULL OR NOT is_bot)"
		}
		switch f.Country {
		case "FR":
			q += " AND country = 'FR'"
		case "unknown":
			q += " AND country IS NULL"
		}
		if err := st.DB.QueryRow(q, f.From, f.To).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if before[i].tot.Requests != want || want == 0 {
			t.Errorf("filter %d, marked: %d requests, SQL %d", i, before[i].tot.Requests, want)
		}
	}
	checkExact(t, st) // derives every marked bucket
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log_rollup_dirty").Scan(&marked); err != nil || marked != 0 {
		t.Fatalf("%d marks left after deriving, %v", marked, err)
	}
	for i, f := range filters {
		after := read(f)
		if after.tot != before[i].tot || fmt.Sprint(after.top) != fmt.Sprint(before[i].top) || fmt.Sprint(after.series) != fmt.Sprint(before[i].series) {
			t.Errorf("filter %d reads differently once derived:\n%+v\n%+v", i, before[i], after)
		}
	}
}
