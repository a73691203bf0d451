package store_test

import (
	"context"
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
	rows, err := st.DB.Query("SELECT id, COALESCE(HEX(visit_id), 'NULL') FROM clean_log")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id []byte
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[record.ID(id).Offset()] = v
	}
	return out
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
	// A line a few seconds late, in a later batch, joins its visit; one
	// late by more than a visit's gap goes to the visit before.
	write(visitRow(1, 4, t0, 29*m+59*sec+30*m+10*sec), visitRow(1, 5, t0, 29*m+59*sec+30*m+5*sec))
	write(visitRow(1, 6, t0, 29*m+59*sec+30*m-3*sec)) // 3 s before visit 2's first line: visit 2
	write(visitRow(1, 7, t0, 10*m))                   // 50 min late: visit 1
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
