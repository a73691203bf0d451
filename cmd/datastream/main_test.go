package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGCKeepsTheUsersGOGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	for _, tc := range []struct {
		gogc string
		want int
	}{
		{"", gcPercent},
		{"50", 100},
		{"off", 100},
	} {
		debug.SetGCPercent(100)
		tuneGC(tc.gogc)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC=%q: GC percent %d, want %d", tc.gogc, got, tc.want)
		}
	}
}
