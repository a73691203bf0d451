package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestTuneGCKeepsTheUsersGOGC(t *testing.T) {
	// What the runtime had: a user's GOGC or GOMEMLIMIT leaves it.
	const before, noLimit = 77, int64(math.MaxInt64)
	origPercent, origLimit := debug.SetGCPercent(before), debug.SetMemoryLimit(noLimit)
	defer func() {
		debug.SetGCPercent(origPercent)
		debug.SetMemoryLimit(origLimit)
	}()
	for _, tc := range []struct {
		gogc, memLimit, command string
		percent                 int
		limit                   int64
	}{
		{"", "", "logs-producer", gcPercent, noLimit},
		{"", "", "data-lake-consumer", gcPercent, noLimit},
		{"", "", "data-clean-consumer", gcPercent, cleanMemLimit},
		{"", "", "run", gcPercent, noLimit},
		{"50", "", "data-clean-consumer", before, cleanMemLimit},
		{"", "1GiB", "data-clean-consumer", gcPercent, noLimit},
		{"off", "", "logs-producer", before, noLimit},
	} {
		debug.SetGCPercent(before)
		debug.SetMemoryLimit(noLimit)
		tuneGC(tc.gogc, tc.memLimit, tc.command)
		if got := debug.SetGCPercent(before); got != tc.percent {
			t.Errorf("GOGC=%q %s: GC percent %d, want %d", tc.gogc, tc.command, got, tc.percent)
		}
		if got := debug.SetMemoryLimit(-1); got != tc.limit {
			t.Errorf("GOMEMLIMIT=%q %s: memory limit %d, want %d", tc.memLimit, tc.command, got, tc.limit)
		}
	}
}
