package faults

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var stoppedRE = regexp.MustCompile(`msg="logs-producer stopped" read=(\d+) confirmed=(\d+)`)

// producerStats reads what a producer said at exit: lines read (and
// published) and lines RabbitMQ confirmed.
func producerStats(t *testing.T, p *proc) (read, confirmed int) {
	t.Helper()
	m := stoppedRE.FindStringSubmatch(p.log())
	if m == nil {
		t.Fatalf("producer did not log its final counts:\n%s", tailLines(p.log(), 20))
	}
	read, _ = strconv.Atoi(m[1])
	confirmed, _ = strconv.Atoi(m[2])
	return read, confirmed
}

// SIGTERM mid-stream: each consumer commits the batch in hand and exits 0
// within a few seconds; the producer waits for every confirm, saves its
// checkpoint and exits 0, so its successor reads exactly the lines after it.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The producer must wait for every confirm: give it the time a loaded
	// machine needs, so that the test checks the waiting, not the speed.
	h.extra[producer] = []string{"--shutdown-grace", "2m"}
	h.startAll()
	w := startWriter(t, h.logPath, rate, 8)
	h.flowing(rate)

	for _, role := range []string{lake, cleaner} {
		p := h.proc(role)
		// Within its --shutdown-grace (5 s) and a margin for a loaded
		// machine (10.3 s seen at load 25): term fails after 20 s.
		code, took, err := p.term(20 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 {
			t.Errorf("%s after SIGTERM: exit %d after %s, want 0", role, code, took.Round(time.Millisecond))
		}
		if strings.Contains(p.log(), "gave up on a batch") {
			t.Errorf("%s gave up on its batch at shutdown", role)
		}
		t.Logf("%s exited %d %s after SIGTERM", role, code, took.Round(time.Millisecond))
		h.start(role)
	}

	p := h.proc(producer)
	code, took, err := p.term(3 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("producer exit %d after SIGTERM", code)
	}
	read1, confirmed1 := producerStats(t, p)
	if read1 == 0 || read1 != confirmed1 {
		t.Errorf("producer at SIGTERM: read %d, confirmed %d; it must wait for every confirm", read1, confirmed1)
	}
	t.Logf("producer exited %d %s after SIGTERM, %d lines read and confirmed", code, took.Round(time.Millisecond), read1)
	time.Sleep(500 * time.Millisecond) // the log grows while no producer runs
	w.Stop()

	h.start(producer)
	if _, err := h.waitLanded(w.Written(), landWait); err != nil {
		t.Fatal(err)
	}
	p2 := h.proc(producer)
	if code, _, err := p2.term(3 * time.Minute); err != nil || code != 0 {
		t.Fatalf("second producer: exit %d, %v", code, err)
	}
	read2, _ := producerStats(t, p2)
	if read1+read2 != w.Written() {
		t.Errorf("first producer read %d, its successor %d: %d lines re-read (checkpoint not saved at exit)", read1, read2, read1+read2-w.Written())
	}
	h.verify("SIGTERM each component mid-stream, restart", w.Lines(), 0, "")
}
