package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

// visitLog writes a log of 300 visitors (address, user agent) over 90
// minutes, each making visits of 1 to 15 requests 5 s to 5 min apart (and
// now and then 20 min) separated by exactly 30:00 to 90 minutes of quiet,
// with neighbouring lines a few seconds apart swapped (out of order, as
// nginx's workers write them). It returns the path and, per byte offset,
// the visit (visitor, number) the line belongs to.
func visitLog(t *testing.T) (string, map[int64]string) {
	r := rand.New(rand.NewPCG(13, 13))
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	type req struct {
		at      time.Time
		visitor int
		visit   int
	}
	var reqs []req
	for v := range 300 {
		at := t0.Add(time.Duration(r.IntN(1200)) * time.Second)
		for visit := 1; at.Before(t0.Add(90 * time.Minute)); visit++ {
			for range 1 + r.IntN(15) {
				reqs = append(reqs, req{at, v, visit})
				gap := time.Duration(5+r.IntN(295)) * time.Second
				if r.IntN(20) == 0 {
					gap = 20 * time.Minute
				}
				at = at.Add(gap)
			}
			at = reqs[len(reqs)-1].at.Add([]time.Duration{30 * time.Minute, 31 * time.Minute, 45 * time.Minute, 90 * time.Minute}[r.IntN(4)])
		}
	}
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].at.Before(reqs[j].at) })
	for i := 1; i < len(reqs); i++ {
		if reqs[i].at.Sub(reqs[i-1].at) <= 5*time.Second && r.IntN(3) == 0 {
			reqs[i], reqs[i-1] = reqs[i-1], reqs[i]
			i++
		}
	}
	var buf bytes.Buffer
	visits := map[int64]string{}
	for i, q := range reqs {
		visits[int64(buf.Len())] = fmt.Sprintf("%d/%d", q.visitor, q.visit)
		fmt.Fprintf(&buf, `203.0.113.%d - - [%s] "GET /page/%d HTTP/1.1" 200 %d "-" "agent/%d (visits test)"`+"\n",
			q.visitor%100, q.at.Format("02/Jan/2006:15:04:05 -0700"), i, i, q.visitor/100)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, visits
}

// The same log through one clean consumer and through three competing
// ones (one of them killed with SIGKILL midway and replaced) gives every
// row the same visit id, and the visits are the log's.
func TestVisitsOneVersusThreeConsumers(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	path, want := visitLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// Default flow: the producer packs up to 1,000 lines a message, so the
	// three consumers write far-apart chunks of this log at once and a
	// visitor's lines reach the database out of order by much more than a
	// visit's gap.
	one := testenv.New(t)
	runCmd(t, ctx, append([]string{"run", "--once", "--log", path}, one.Args()...)...)
	got1 := testenv.VisitIDs(t, one.Store(t).DB)

	three := testenv.New(t)
	runCmd(t, ctx, append([]string{"setup"}, three.Args()...)...)
	start := func(name string, extra ...string) *exec.Cmd {
		cmd, _ := startCmd(t, ctx, append(append([]string{name}, three.Args()...), extra...)...)
		return cmd
	}
	consumer := func() *exec.Cmd { return start("data-clean-consumer") }
	producer := start("logs-producer", "--log", path, "--follow=false", "--state-dir", t.TempDir())
	cs := []*exec.Cmd{consumer(), consumer(), consumer()}
	st := three.Store(t)
	count := func() int {
		var n int
		if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(n int) {
		deadline := time.Now().Add(5 * time.Minute)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %d of %d clean rows", count(), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(len(want) / 3)
	if err := cs[1].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cs[1].Wait()
	cs[1] = consumer()
	if err := producer.Wait(); err != nil {
		t.Fatalf("producer: %v", err)
	}
	waitFor(len(want))
	for _, c := range cs {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	}
	got3 := testenv.VisitIDs(t, three.Store(t).DB)

	if len(got1) != len(want) || len(got3) != len(want) {
		t.Fatalf("%d and %d rows, want %d", len(got1), len(got3), len(want))
	}
	differ := 0
	idOf := map[string]string{} // visit → id
	visitOf := map[string]string{}
	for off, visit := range want {
		if got1[off] != got3[off] {
			if differ++; differ <= 5 {
				t.Errorf("line at %d: visit %s with one consumer, %s with three", off, got1[off], got3[off])
			}
		}
		id := got1[off]
		if prev, ok := idOf[visit]; ok && prev != id {
			t.Errorf("line at %d of visit %s: id %s, another line of it has %s", off, visit, id, prev)
		}
		if prev, ok := visitOf[id]; ok && prev != visit {
			t.Errorf("visits %s and %s share id %s", visit, prev, id)
		}
		idOf[visit], visitOf[id] = id, visit
	}
	t.Logf("%d lines, %d visits; %d rows differ between one and three consumers", len(want), len(idOf), differ)
}
