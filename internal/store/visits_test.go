package store_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// visitRow is a row of visitor v at t0+at, with line number n as its id.
func visitRow(v byte, n int64, t0 time.Time, at time.Duration) clean.Row {
	ts := t0.Add(at)
	return clean.Row{ID: record.NewID([8]byte{9}, n), ReceivedAt: time.Now(), Time: &ts, Visitor: [16]byte{v}, HasVisitor: true}
}

func visitIDs(t *testing.T, st *store.Store) map[int64]string {
	t.Helper()
	return testenv.VisitIDs(t, st.DB)
}

// checkVisits asserts that lines in the same group of want share a visit id
// and lines of different groups do not.
func checkVisits(t *testing.T, got map[int64]string, want [][]int64) {
	t.Helper()
	seen := map[string]int{}
	for g, lines := range want {
		for _, n := range lines {
			id, ok := got[n]
			if !ok || id == "NULL" {
				t.Errorf("line %d: no visit id", n)
				continue
			}
			if prev, ok := seen[id]; ok && prev != g {
				t.Errorf("line %d: visit %s of group %d, also used by group %d", n, id, g, prev)
			}
			seen[id] = g
			if id != got[lines[0]] {
				t.Errorf("line %d: visit %s, but line %d of its group has %s", n, id, lines[0], got[lines[0]])
			}
		}
	}
}

func TestVisitBoundaries(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	m, sec := time.Minute, time.Second
	write := func(rows ...clean.Row) {
		t.Helper()
		if err := st.WriteClean(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	// Visitor 1: 29:59 of quiet keeps the visit, 30:00 starts a new one.
	// Lines of a batch come in any order.
	write(visitRow(1, 3, t0, 29*m+59*sec+30*m), visitRow(1, 1, t0, 0), visitRow(1, 2, t0, 29*m+59*sec))
	// Visitor 2 in another batch: the same times make other visits.
	write(visitRow(2, 10, t0, 0))
	// A line a few seconds late, in a later batch, joins its visit, and so
	// does one late by more than a visit's gap.
	write(visitRow(1, 4, t0, 29*m+59*sec+30*m+10*sec), visitRow(1, 5, t0, 29*m+59*sec+30*m+5*sec))
	write(visitRow(1, 6, t0, 29*m+59*sec+30*m+2*sec))
	write(visitRow(1, 7, t0, 10*m)) // 50 min late: visit 1
	// Re-delivered lines (same ids) change nothing.
	write(visitRow(1, 1, t0, 0), visitRow(1, 5, t0, 29*m+59*sec+30*m+5*sec))
	// A restart: a new store on the same tables carries on.
	st2 := env.Store(t)
	if err := st2.WriteClean(ctx, []clean.Row{visitRow(1, 8, t0, 29*m+59*sec+30*m+10*sec+60*m), visitRow(1, 9, t0, 29*m+59*sec+30*m+10*sec+31*m)}); err != nil {
		t.Fatal(err)
	}
	// A row without a time has no visit.
	noTime := visitRow(3, 11, t0, 0)
	noTime.Time = nil
	write(noTime)

	got := visitIDs(t, st)
	checkVisits(t, got, [][]int64{{1, 2, 7}, {3, 4, 5, 6}, {9, 8}, {10}})
	if got[11] != "NULL" {
		t.Errorf("a row without a time has visit %s", got[11])
	}
}

// Competing writers on the same visitors, each batch in its own
// transaction, number the visits as one writer does.
func TestVisitsCompetingWriters(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	// 20 visitors, each with 3 visits of 30 lines, 20 s apart, and 40
	// minutes between visits.
	var all []clean.Row
	var want [][]int64
	n := int64(0)
	for v := range byte(20) {
		for visit := range 3 {
			var group []int64
			for i := range 30 {
				n++
				all = append(all, visitRow(v, n, t0, time.Duration(visit)*(29*20*time.Second+40*time.Minute)+time.Duration(i)*20*time.Second))
				group = append(group, n)
			}
			want = append(want, group)
		}
	}
	// Interleave in time order, as a log would be.
	byTime := append([]clean.Row(nil), all...)
	for i := 1; i < len(byTime); i++ {
		for j := i; j > 0 && byTime[j].Time.Before(*byTime[j-1].Time); j-- {
			byTime[j], byTime[j-1] = byTime[j-1], byTime[j]
		}
	}
	testenv.Parallel(t)
	for _, writers := range []int{1, 4} {
		st := testenv.New(t).Store(t)
		batches := make(chan []clean.Row)
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for b := range batches {
					if err := st.WriteClean(context.Background(), b); err != nil {
						t.Error(err)
					}
				}
			})
		}
		for i := 0; i < len(byTime); i += 25 {
			batches <- byTime[i:min(i+25, len(byTime))]
		}
		close(batches)
		wg.Wait()
		checkVisits(t, visitIDs(t, st), want)
	}
}

// visitLines are the lines of three visitors: visits separated by exactly
// 30:00 or more of quiet, lines 29:59 or less apart within one.
func visitLines() []clean.Row {
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	steps := []time.Duration{0, 29*time.Minute + 59*time.Second, 30 * time.Minute, 5 * time.Second, 29*time.Minute + 59*time.Second,
		20 * time.Minute, 45 * time.Minute, time.Second, 0, 30 * time.Minute, 29*time.Minute + 59*time.Second, 3 * time.Minute}
	var rows []clean.Row
	n := int64(0)
	for v := range byte(3) {
		at := time.Duration(v) * 7 * time.Minute
		for _, s := range steps {
			at += s
			n++
			rows = append(rows, visitRow(v, n, t0, at))
		}
	}
	return rows
}

// The visit ids are a function of the set of lines: written in order, in
// reverse, shuffled, in batches of any size, by competing writers, they
// are the ids of all the lines written at once.
func TestVisitsAnyOrder(t *testing.T) {
	testenv.Parallel(t)
	lines := visitLines()
	ref := testenv.New(t).Store(t)
	if err := ref.WriteClean(context.Background(), lines); err != nil {
		t.Fatal(err)
	}
	want := visitIDs(t, ref)
	groups := map[string]int{}
	for _, id := range want {
		groups[id]++
	}
	// 3 visitors × the 4 visits of steps.
	if len(groups) != 3*4 {
		t.Fatalf("%d visits, want 12: %v", len(groups), want)
	}
	reversed := slices.Clone(lines)
	slices.Reverse(reversed)
	shuffled := slices.Clone(lines)
	rand.New(rand.NewPCG(13, 13)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, c := range []struct {
		name    string
		rows    []clean.Row
		batch   int
		writers int
	}{
		{"in order, by 1", lines, 1, 1},
		{"reversed, by 1", reversed, 1, 1},
		{"reversed, by 5", reversed, 5, 1},
		{"shuffled, by 1", shuffled, 1, 1},
		{"shuffled, by 4", shuffled, 4, 1},
		{"shuffled, by 3, 3 writers", shuffled, 3, 3},
		{"shuffled twice (re-delivered), by 7", append(slices.Clone(shuffled), reversed...), 7, 1},
	} {
		st := testenv.New(t).Store(t)
		batches := make(chan []clean.Row)
		var wg sync.WaitGroup
		for range c.writers {
			wg.Go(func() {
				for b := range batches {
					if err := st.WriteClean(context.Background(), b); err != nil {
						t.Error(err)
					}
				}
			})
		}
		for i := 0; i < len(c.rows); i += c.batch {
			batches <- c.rows[i:min(i+c.batch, len(c.rows))]
		}
		close(batches)
		wg.Wait()
		if got := visitIDs(t, st); !maps.Equal(got, want) {
			t.Errorf("%s: ids differ from all lines at once:\n got %v\nwant %v", c.name, got, want)
		}
	}
}

// A late line between two visits merges them: the rows already stored get
// the merged visit's id, in the visitor's table too (a later line joins the
// merged visit), and so does a line stretching a visit backwards.
func TestVisitBridge(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	m := time.Minute
	write := func(rows ...clean.Row) {
		t.Helper()
		if err := st.WriteClean(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	write(visitRow(1, 1, t0, 0), visitRow(1, 2, t0, 10*m), visitRow(2, 20, t0, 11*m))
	write(visitRow(1, 3, t0, 50*m), visitRow(1, 4, t0, 60*m))
	write(visitRow(1, 5, t0, 120*m))
	got := visitIDs(t, st)
	checkVisits(t, got, [][]int64{{1, 2}, {3, 4}, {5}, {20}})
	first := got[1]

	write(visitRow(1, 6, t0, 30*m)) // 20 min after line 2, 20 before line 3
	got = visitIDs(t, st)
	checkVisits(t, got, [][]int64{{1, 2, 3, 4, 6}, {5}, {20}})
	if got[3] != first {
		t.Errorf("the merged visit has id %s, want its first line's visit %s", got[3], first)
	}
	write(visitRow(1, 7, t0, 89*m)) // 29 min after line 4: the merged visit
	write(visitRow(1, 8, t0, -25*m))
	got = visitIDs(t, st)
	checkVisits(t, got, [][]int64{{1, 2, 3, 4, 6, 7, 8}, {5}, {20}})
	if got[1] == first {
		t.Errorf("a visit stretched backwards kept its id %s", first)
	}
	var n int
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log_visitors WHERE visitor = ?", []byte{1, 15: 0}).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("visitor 1 has %d rows in clean_log_visitors, want 2 (two visits)", n)
	}
}

// BenchmarkWriteCleanVisits writes batches of 500 rows of 100 visitors
// (a line per visitor every 2 s, so visits last): without visits, in time
// order (each visitor's latest visit only), and with batches swapped in
// pairs: every second batch comes before the one written just before it,
// so it reads earlier visits and rewrites that batch's rows.
func BenchmarkWriteCleanVisits(b *testing.B) {
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name          string
		visits, order bool
	}{{"off", false, true}, {"in-order", true, true}, {"swapped", true, false}} {
		b.Run(c.name, func(b *testing.B) {
			st := testenv.New(b).Store(b)
			n := int64(0)
			batch := func(k int64) []clean.Row {
				rows := make([]clean.Row, 500)
				for i := range rows {
					n++
					// Batch k holds the lines of block k (5 per visitor, 2 s
					// apart); swapped, of block k^1.
					block := k
					if !c.order {
						block ^= 1
					}
					at := time.Duration(5*block+int64(i/100)) * 2 * time.Second
					rows[i] = visitRow(byte(i%100), n, t0, at)
					rows[i].HasVisitor = c.visits
				}
				return rows
			}
			b.ReportAllocs()
			k := int64(0)
			for b.Loop() {
				if err := st.WriteClean(context.Background(), batch(k)); err != nil {
					b.Fatal(err)
				}
				k++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/row")
		})
	}
}
