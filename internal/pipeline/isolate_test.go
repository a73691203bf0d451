package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// isolate is tested with a writer that refuses chosen rows the way MySQL
// does (error 1406) and otherwise records what it committed.
func TestIsolateFindsEveryPoisonRow(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		bad  []int
	}{
		{"none", 10, nil},
		{"first", 10, []int{0}},
		{"last", 10, []int{9}},
		{"several", 100, []int{3, 4, 50, 99}},
		{"all", 3, []int{0, 1, 2}},
		{"single", 1, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			poison := map[int]bool{}
			for _, b := range tc.bad {
				poison[b] = true
			}
			committed := map[int]int{}
			write := func(_ context.Context, lo, hi int) error {
				for i := lo; i < hi; i++ {
					if poison[i] {
						return &mysql.MySQLError{Number: 1406, Message: "Data too long"}
					}
				}
				for i := lo; i < hi; i++ {
					committed[i]++
				}
				return nil
			}
			bad, err := isolate(context.Background(), tc.n, write)
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) != len(tc.bad) {
				t.Fatalf("isolated %v, want %v", bad, tc.bad)
			}
			for i := range tc.n {
				if poison[i] {
					if _, ok := bad[i]; !ok {
						t.Errorf("row %d not isolated", i)
					}
					continue
				}
				if committed[i] != 1 {
					t.Errorf("row %d committed %d times", i, committed[i])
				}
			}
		})
	}
}

func TestIsolateReturnsTransientErrors(t *testing.T) {
	down := errors.New("connection refused")
	_, err := isolate(context.Background(), 5, func(context.Context, int, int) error { return down })
	if !errors.Is(err, down) {
		t.Fatalf("got %v, want the transient error for the whole batch", err)
	}
}
