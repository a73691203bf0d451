package faults

import "testing"

// 9. Two competing clean consumers on one queue, one killed with -9
// mid-batch and restarted: clean_log has each line once and the rollups
// (checked by verify against clean_log) count each once.
func TestCompetingCleanConsumers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startAll()
	h.start(cleaner) // the second consumer; h.proc(cleaner) is now it
	w := startWriter(t, h.logPath, rate, 2)
	rec := h.killEach(w, cleaner)
	w.Stop()
	h.verify("9. two clean consumers, kill -9 one", w.Lines(), rec, "")
}
