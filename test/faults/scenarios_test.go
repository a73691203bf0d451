package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

// rate is the writer's steady rate in lines a second.
const rate = 400

// 1. kill -9 the producer mid-stream, restart it with the same --state-dir:
// lines published but not yet checkpointed are sent again (and land once),
// lines not yet read are read.
func TestKillProducer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startAll()
	w := startWriter(t, h.logPath, rate, 1)
	var rec time.Duration
	for range 2 {
		time.Sleep(2 * time.Second)
		h.flowing(w.Written() / 2)
		h.kill9(producer)
		time.Sleep(time.Second) // the log grows while no producer runs
		h.start(producer)
		rec = h.recovery(w)() // the second one is reported
	}
	time.Sleep(time.Second)
	w.Stop()
	h.verify("1. kill -9 producer (×2), restart", w.Lines(), rec, "")
}

// 2. kill -9 each consumer mid-batch and restart it: the batch in hand was
// not acked, RabbitMQ delivers it again, the idempotent insert keeps one row.
// The producer keeps the original design's one line per message here; the
// other scenarios run its default (--lines-per-message auto).
func TestKillConsumers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.extra[producer] = []string{"--lines-per-message", "1"}
	h.startAll()
	w := startWriter(t, h.logPath, rate, 2)
	rec := h.killEach(w, lake, cleaner, lake, cleaner)
	w.Stop()
	h.verify("2. kill -9 each consumer (×2), restart", w.Lines(), rec, "")
}

// 3. Cut RabbitMQ for 10 s mid-stream: every connection of the three
// processes drops, new ones hang (blackhole) until the cut ends.
func TestRabbitMQOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startAll()
	w := startWriter(t, h.logPath, rate, 3)
	h.flowing(rate)
	h.dlFaults++
	h.rabbit.Cut(testenv.Blackhole)
	time.Sleep(10 * time.Second)
	h.requireRunning(roles...)
	h.rabbit.Restore()
	done := h.recovery(w)
	rec := done()
	time.Sleep(time.Second)
	w.Stop()
	h.verify("3. RabbitMQ cut 10 s", w.Lines(), rec, "")
}

// 4. Cut MariaDB for 10 s mid-stream: the consumers keep their batches
// unacked and retry; nothing is stored, nothing is acked, then they catch up.
func TestMariaDBOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startAll()
	w := startWriter(t, h.logPath, rate, 4)
	h.flowing(rate)
	h.mysql.Cut(testenv.Refuse)
	time.Sleep(500 * time.Millisecond) // a commit in flight at the cut settles
	raw0, clean0, _, err := h.counts()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(9500 * time.Millisecond)
	raw1, clean1, _, err := h.counts()
	if err != nil {
		t.Fatal(err)
	}
	if raw1 != raw0 || clean1 != clean0 {
		t.Errorf("rows were stored while MariaDB was cut: raw %d→%d, clean %d→%d", raw0, raw1, clean0, clean1)
	}
	// Nothing was acked: what was published during the cut is all in the
	// queue (ready, or unacked in the consumer's hands).
	if depth := h.env.QueueDepth(t, h.env.LakeQueue); depth == 0 {
		t.Errorf("lake queue is empty after 10 s without a database")
	}
	h.requireRunning(roles...)
	// Each consumer retried: a batch's rows, or the record of its dead
	// letters already in the DLQ (the batch stays unacked either way).
	for _, r := range []string{lake, cleaner} {
		if log := h.proc(r).log(); !strings.Contains(log, "will retry, messages stay unacked") && !strings.Contains(log, "recording published dead letters failed; will retry") {
			t.Errorf("%s did not report retrying its batch", r)
		}
	}
	h.mysql.Restore()
	rec := h.recovery(w)()
	time.Sleep(time.Second)
	w.Stop()
	h.verify("4. MariaDB cut 10 s", w.Lines(), rec, "")
}

// 5a. Rotate by rename several times while writing fast: mv log log.1
// (older ones shift up, like logrotate), the writer keeps writing to the
// renamed file for a moment, then reopens (like nginx -s reopen).
func TestRotateRename(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.logArg = filepath.Join(h.dir, "access.log*")
	h.startAll()
	w := startWriter(t, h.logPath, 4*rate, 5)
	h.flowing(rate)
	const rotations = 4
	for i := range rotations {
		// Shift access.log.N → access.log.N+1, as logrotate numbers them.
		for k := i; k >= 1; k-- {
			if err := renameIfExists(fmt.Sprintf("%s.%d", h.logPath, k), fmt.Sprintf("%s.%d", h.logPath, k+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.rotateRename(h.logPath+".1", 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
	}
	w.Stop()
	rec := h.recovery(w)()
	h.verify("5a. rotate by rename ×4 (glob access.log*)", w.Lines(), rec, "")
}

// 5b. Rotate by copytruncate several times while writing fast. logrotate
// copies then truncates while the server keeps writing; lines written
// between the reader's last read and the truncate are in the copy only. The
// writer pauses before cp+truncate until every line so far is stored (on a
// loaded machine a fixed pause was not always enough), so nothing may be
// lost.
func TestRotateCopyTruncate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startAll()
	w := startWriter(t, h.logPath, 4*rate, 6)
	h.flowing(rate)
	// Every line written so far is stored, so the reader has read it.
	readAll := func(n int) bool {
		raw, _, _, err := h.counts()
		return err == nil && raw >= n
	}
	for i := range 4 {
		if err := w.copyTruncate(fmt.Sprintf("%s.%d", h.logPath, i+1), 300*time.Millisecond, readAll); err != nil {
			raw, clean, dead, cerr := h.counts()
			t.Fatalf("%v (raw %d, clean %d + dead %d, %v)", err, raw, clean, dead, cerr)
		}
		time.Sleep(time.Second)
	}
	w.Stop()
	rec := h.recovery(w)()
	h.verify("5b. rotate by copytruncate ×4 (path)", w.Lines(), rec, "")
}

// 6. Restart everything at once: kill -9 all three, start them again.
func TestKillAll(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startAll()
	w := startWriter(t, h.logPath, rate, 7)
	h.flowing(rate)
	for _, r := range roles {
		h.kill9(r)
	}
	time.Sleep(time.Second)
	h.startAll()
	rec := h.recovery(w)()
	w.Stop()
	h.verify("6. kill -9 all three, restart", w.Lines(), rec, "")
}

// killEach kills each role in turn with -9 a second into steady flow,
// restarts it half a second later, and returns the longest recovery.
func (h *harness) killEach(w *logWriter, order ...string) time.Duration {
	var rec time.Duration
	for _, role := range order {
		time.Sleep(time.Second)
		h.flowing(w.Written() / 2)
		h.kill9(role)
		time.Sleep(500 * time.Millisecond)
		h.start(role)
		rec = max(rec, h.recovery(w)())
	}
	return rec
}

func renameIfExists(from, to string) error {
	err := os.Rename(from, to)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// 8. Packed messages (--lines-per-message 20) through a kill -9 of each
// component. The consumers' --prefetch-lines is low, so each of them
// subscribes again with a lower prefetch once packed messages arrive, and
// again after its restart: every line still lands exactly once.
func TestPackedKillEach(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.extra[producer] = []string{"--lines-per-message", "20"}
	h.extra[lake] = []string{"--prefetch-lines", "500"}
	h.extra[cleaner] = []string{"--prefetch-lines", "500"}
	h.startAll()
	w := startWriter(t, h.logPath, 3*rate, 8)
	// Packed messages must still arrive after each consumer's restart (the
	// prefetch check below): 30 s of writing, not 10, on a loaded machine.
	w.mu.Lock()
	w.max = 30 * 3 * rate
	w.mu.Unlock()
	rec := h.killEach(w, lake, cleaner, producer)
	w.Stop()
	// The consumers restarted by the scenario, not those verify may start
	// to take what is left in the queues.
	restarted := []*proc{h.proc(lake), h.proc(cleaner)}
	h.verify("8. packed 20 lines/message, kill -9 each", w.Lines(), rec, "")
	for _, p := range restarted {
		if !strings.Contains(p.log(), "subscribing again with a lower prefetch") {
			t.Errorf("%s never lowered its prefetch for packed messages:\n%s", p.name, tailLines(p.log(), 20))
		}
	}
}
