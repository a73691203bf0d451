package pipeline

import (
	"testing"
	"time"
)

func TestNewestCommittedSkipsRefusedRows(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	own := []*time.Time{nil, ptrTime(t0.Add(-time.Hour)), ptrTime(t0.Add(-2 * time.Hour)), ptrTime(t0)}
	at := func(i int) (time.Time, *time.Time) { return t0.Add(time.Duration(i) * time.Second), own[i] }
	for _, tc := range []struct {
		name      string
		bad       map[int]string
		read      time.Time
		logTime   *time.Time
		notCalled bool
	}{
		{"all stored", nil, t0.Add(3 * time.Second), own[3], false},
		{"newest refused", map[int]string{3: "x"}, t0.Add(2 * time.Second), own[1], false},
		{"only one without its own time", map[int]string{1: "x", 2: "x", 3: "x"}, t0, nil, false},
		{"all refused", map[int]string{0: "x", 1: "x", 2: "x", 3: "x"}, time.Time{}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			var read time.Time
			var logTime *time.Time
			newestCommitted(func(r time.Time, l *time.Time) { called, read, logTime = true, r, l }, len(own), tc.bad, at)
			if called == tc.notCalled {
				t.Fatalf("called %v, want %v", called, !tc.notCalled)
			}
			if !read.Equal(tc.read) || (logTime == nil) != (tc.logTime == nil) || logTime != nil && !logTime.Equal(*tc.logTime) {
				t.Errorf("got %v, %v; want %v, %v", read, logTime, tc.read, tc.logTime)
			}
		})
	}
	newestCommitted(nil, len(own), nil, at) // no hook: nothing to do
}

func ptrTime(t time.Time) *time.Time { return &t }
