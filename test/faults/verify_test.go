package faults

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
)

// deadTable is the clean consumer's table of dead-lettered line ids.
func (h *harness) deadTable() string {
	return store.QuoteIdent(h.env.CleanTable + "_dead_letters")
}

// counts returns raw_log rows, clean_log rows and dead-lettered lines (the
// clean consumer's record of them in the database).
func (h *harness) counts() (raw, clean, dead int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, c, err := h.st.Count(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := h.st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+h.deadTable()).Scan(&dead); err != nil {
		return 0, 0, 0, err
	}
	return int(r), int(c), dead, nil
}

// waitLanded polls until both tables account for at least n lines, and
// returns how long that took; on timeout the error has the counts seen.
func (h *harness) waitLanded(n int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var raw, clean, dead int
	var err error
	for time.Now().Before(deadline) {
		raw, clean, dead, err = h.counts()
		if err == nil && raw >= n && clean+dead >= n {
			return time.Since(start), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), fmt.Errorf("timed out after %s: raw %d, clean %d + dead letters %d, want %d each (last error: %v)", timeout, raw, clean, dead, n, err)
}

// recovery starts timing a recovery now: it returns a function that reports
// how long after now the tables held every line written until now. The
// function must be called before the test ends.
func (h *harness) recovery(w *logWriter) func() time.Duration {
	target := w.Written()
	ch := make(chan time.Duration, 1)
	go func() {
		d, err := h.waitLanded(target, landWait)
		if err != nil {
			h.t.Errorf("did not recover: %v", err)
		}
		ch <- d
	}()
	return func() time.Duration { return <-ch }
}

// stop stops a running component with SIGTERM; it must exit 0.
func (h *harness) stop(role string) {
	h.t.Helper()
	p := h.proc(role)
	if p == nil || !p.running() {
		return
	}
	code, took, err := p.term(30 * time.Second)
	if err != nil {
		h.t.Error(err)
	} else if code != 0 {
		h.t.Errorf("%s exited %d %s after SIGTERM:\n%s", role, code, took.Round(time.Millisecond), tailLines(p.log(), 20))
	}
}

// quiesce brings the scenario to rest before the exact checks, so that a
// duplicate arriving late is stored, and seen, before them. It waits until
// n lines have landed, stops the producer (which waits for every confirm),
// waits until both queues are empty, then stops both consumers: each
// commits and acks the batch in hand, and whatever it had fetched and not
// acked goes back to its queue. With no consumer, both queues must then hold
// nothing; if they do, the consumers are started again to take it, up to
// three rounds. Every wait that times out fails the test with what it saw.
func (h *harness) quiesce(n int) {
	t := h.t
	t.Helper()
	if _, err := h.waitLanded(n, landWait); err != nil {
		t.Errorf("lines did not land: %v", err)
	}
	h.stop(producer)
	depths := func() (lake, clean int) {
		return h.env.QueueDepth(t, h.env.LakeQueue), h.env.QueueDepth(t, h.env.CleanQueue)
	}
	for round := 1; ; round++ {
		var l, c int
		deadline := time.Now().Add(landWait)
		for l, c = depths(); l+c > 0; l, c = depths() {
			if time.Now().After(deadline) {
				raw, clean, dead, err := h.counts()
				t.Errorf("queues not drained after %s: lake %d, clean %d messages ready; raw %d, clean %d + dead %d, want %d (%v)", landWait, l, c, raw, clean, dead, n, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		h.stop(lake)
		h.stop(cleaner)
		if l, c = depths(); l+c == 0 {
			return
		}
		if round == 3 {
			t.Errorf("after %d rounds the queues still hold lake %d, clean %d messages with no consumer", round, l, c)
			return
		}
		t.Logf("quiesce round %d: lake %d, clean %d messages went back to the queues at the consumers' stop; starting them again", round, l, c)
		h.start(lake)
		h.start(cleaner)
	}
}

// storedRow is one raw_log row: its file identity and offset (the id) and
// the bytes stored.
type storedRow struct {
	id   record.ID
	data []byte
}

// matchFiles pairs each file the writer wrote with the file identity the
// tailer gave it, by the most (offset, bytes) in common; an identity is the
// tailer's hash of device, inode and first line, which the test does not
// recompute. Each file and each identity is paired at most once, so rows of
// one file stored under another identity, or of no file written, are left
// over and counted.
func matchFiles(want []pos, rows []storedRow) map[int][8]byte {
	at := map[int]map[int64][]byte{}
	for _, p := range want {
		if at[p.file] == nil {
			at[p.file] = map[int64][]byte{}
		}
		at[p.file][p.off] = p.data
	}
	type pair struct {
		file  int
		id    [8]byte
		votes int
	}
	votes := map[[8]byte]map[int]int{}
	for _, r := range rows {
		f := r.id.File()
		for file, offs := range at {
			if d, ok := offs[r.id.Offset()]; ok && string(d) == string(r.data) {
				if votes[f] == nil {
					votes[f] = map[int]int{}
				}
				votes[f][file]++
			}
		}
	}
	var pairs []pair
	for id, byFile := range votes {
		for file, n := range byFile {
			pairs = append(pairs, pair{file, id, n})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(b.votes-a.votes, a.file-b.file, strings.Compare(string(a.id[:]), string(b.id[:])))
	})
	out := map[int][8]byte{}
	taken := map[[8]byte]bool{}
	for _, p := range pairs {
		if _, ok := out[p.file]; ok || taken[p.id] {
			continue
		}
		out[p.file], taken[p.id] = p.id, true
	}
	return out
}

// verify brings the scenario to rest and checks, by position, that raw_log
// holds exactly the lines written, each at its (file, offset) with its bytes,
// and that every line is exactly one of: a clean_log row (it parses), or a
// dead letter (it does not), recorded once in the database and present in
// the dead-letter queue under its id. The multiset of contents is compared
// too, as a second opinion. It records the row of the results table.
func (h *harness) verify(scenario string, lines []pos, recover time.Duration, note string) result {
	t := h.t
	t.Helper()
	h.quiesce(len(lines))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := result{Scenario: scenario, Written: len(lines), Recover: recover, Note: note}

	parser, _, err := logformat.Resolve("combined")
	if err != nil {
		t.Fatal(err)
	}
	var e logformat.Entry
	parses := func(l []byte) bool { return parser.Parse(l, &e) == nil }

	// raw_log, every row.
	var rows []storedRow
	qr, err := h.st.DB.QueryContext(ctx, "SELECT id, line FROM "+store.QuoteIdent(h.env.RawTable))
	if err != nil {
		t.Fatal(err)
	}
	for qr.Next() {
		var id, line []byte
		if err := qr.Scan(&id, &line); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, storedRow{record.ID(id), line})
	}
	if err := qr.Err(); err != nil {
		t.Fatal(err)
	}
	qr.Close()
	res.Raw = len(rows)

	// What each id must be: the line written at that position.
	files := matchFiles(lines, rows)
	want := make(map[record.ID][]byte, len(lines))
	var unparsable []record.ID
	wantClean := 0
	for _, p := range lines {
		f, ok := files[p.file]
		if !ok {
			res.Lost++
			if res.Lost <= 5 {
				t.Errorf("file %d, offset %d: no row of that file was stored: %q", p.file, p.off, trunc(string(p.data)))
			}
			continue
		}
		id := record.NewID(f, p.off)
		want[id] = p.data
		if parses(p.data) {
			wantClean++
		} else {
			unparsable = append(unparsable, id)
		}
	}
	got := make(map[record.ID][]byte, len(rows))
	for _, r := range rows {
		got[r.id] = r.data
		if w, ok := want[r.id]; !ok || string(w) != string(r.data) {
			res.Duplicated++
			if res.Duplicated <= 5 {
				t.Errorf("raw_log row %s (offset %d) is no line written there: %q", r.id, r.id.Offset(), trunc(string(r.data)))
			}
		}
	}
	for _, p := range lines {
		f, ok := files[p.file]
		if !ok {
			continue // counted above
		}
		id := record.NewID(f, p.off)
		if g, ok := got[id]; !ok || string(g) != string(p.data) {
			res.Lost++
			if res.Lost <= 5 {
				t.Errorf("line at offset %d (%s) not stored: %q", p.off, id, trunc(string(p.data)))
			}
		}
	}
	h.compareContents(lines, rows)

	// clean_log and the dead letters recorded in the database: together
	// every id written, each once, in the right one.
	cleanIDs := h.ids(ctx, "SELECT id FROM "+store.QuoteIdent(h.env.CleanTable))
	deadIDs := h.ids(ctx, "SELECT id FROM "+h.deadTable())
	res.Clean, res.Dead = len(cleanIDs), len(deadIDs)
	// The rollups count every clean row once, whatever was re-delivered.
	diffs, err := h.st.CheckRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("rollups: %s", d)
	}
	for id := range cleanIDs {
		if w, ok := want[id]; !ok {
			t.Errorf("clean_log row %s is of no line written", id)
		} else if !parses(w) {
			t.Errorf("clean_log row %s is of a line that does not parse: %q", id, trunc(string(w)))
		} else if deadIDs[id] {
			t.Errorf("line %s is both in clean_log and dead-lettered", id)
		}
	}
	for id := range deadIDs {
		if w, ok := want[id]; !ok {
			t.Errorf("dead letter %s is of no line written", id)
		} else if parses(w) {
			t.Errorf("dead letter %s is of a line that parses: %q", id, trunc(string(w)))
		}
	}
	missing := 0
	for id, w := range want {
		if !cleanIDs[id] && !deadIDs[id] {
			if missing++; missing <= 5 {
				t.Errorf("line %s is neither in clean_log nor dead-lettered: %q", id, trunc(string(w)))
			}
		}
	}

	// The dead-letter queue: each unparsable line under its id; a repeat
	// carries an id already there.
	dlq := h.deadLetters()
	res.DLQ = len(dlq)
	seen := map[record.ID]bool{}
	for _, s := range dlq {
		id, err := record.ParseID(s)
		if err != nil {
			t.Errorf("dead letter with message id %q", s)
			continue
		}
		if seen[id] {
			res.Repeats++
		}
		seen[id] = true
		if !deadIDs[id] {
			t.Errorf("dead letter %s in the queue is not recorded in %s", id, h.deadTable())
		}
	}
	for _, id := range unparsable {
		if !seen[id] {
			t.Errorf("line %s does not parse and is not in the dead-letter queue", id)
		}
	}

	t.Logf("%s: written %d, raw %d, clean %d + dead letters %d (want %d + %d), DLQ %d messages (%d repeats), lost %d, duplicated %d, recovered in %s",
		scenario, len(lines), res.Raw, res.Clean, res.Dead, wantClean, len(unparsable), res.DLQ, res.Repeats, res.Lost, res.Duplicated, fmtRecover(recover))
	if res.Raw != len(lines) {
		t.Errorf("raw_log has %d rows, %d lines were written", res.Raw, len(lines))
	}
	if res.Clean != wantClean || res.Dead != len(unparsable) {
		t.Errorf("clean_log has %d rows and %d lines are dead-lettered; of the lines written %d parse and %d do not", res.Clean, res.Dead, wantClean, len(unparsable))
	}
	if len(seen) != len(unparsable) {
		t.Errorf("the dead-letter queue holds %d distinct lines, %d lines do not parse", len(seen), len(unparsable))
	}
	// A repeat needs a dead letter in flight at a fault that can repeat one:
	// at most the batches in hand (2 writers × --batch-size 100) per fault.
	if limit := h.dlFaults * 2 * 100; res.Repeats > limit {
		t.Errorf("%d dead letters repeated in the queue, more than the %d that %d fault(s) can explain", res.Repeats, limit, h.dlFaults)
	}
	addResult(res)
	return res
}

// compareContents is the second opinion: the multiset of lines stored equals
// the multiset of lines written, whatever their positions.
func (h *harness) compareContents(lines []pos, rows []storedRow) {
	t := h.t
	t.Helper()
	n := map[string]int{}
	for _, p := range lines {
		n[string(p.data)]++
	}
	for _, r := range rows {
		n[string(r.data)]--
	}
	bad := 0
	for l, d := range n {
		if d != 0 {
			if bad++; bad <= 5 {
				t.Errorf("contents: line written %d more times than stored: %q", d, trunc(l))
			}
		}
	}
}

// ids runs a query of ids (a primary key) and returns them as a set.
func (h *harness) ids(ctx context.Context, query string) map[record.ID]bool {
	t := h.t
	t.Helper()
	rows, err := h.st.DB.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[record.ID]bool{}
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[record.ID(id)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// deadLetters reads the message ids in the clean DLQ without taking them
// (they go back when the channel closes); the queue must have no consumer.
func (h *harness) deadLetters() []string {
	t := h.t
	t.Helper()
	ch, closeCh := h.env.Channel(t)
	defer closeCh()
	q := broker.DeadLetterQueue(h.env.CleanQueue)
	info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		d, ok, err := ch.Get(q, false)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		ids = append(ids, d.MessageId)
	}
	if len(ids) != info.Messages {
		t.Errorf("read %d dead letters, the queue said it held %d", len(ids), info.Messages)
	}
	if err := ch.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("close DLQ channel: %v", err)
	}
	return ids
}
