// Package pipeline wires the parts into Datastream's components: the
// producer (tailer → publisher, checkpoints on confirm) and the two
// consumers (deliveries → rows, commit, then ack).
package pipeline

import (
	"context"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
)

// Observer hears about lines once their batch is committed: stored went into
// the table, rejected to the dead-letter queue. Used for metrics and for
// `run --once` to know when every line has landed.
type Observer func(stored, rejected []record.ID)

// The reasons a line is dead-lettered start with one of these (metrics
// count dead letters by them).
const (
	ReasonUndecodable = "undecodable message: "
	ReasonFormat      = "does not fit the log format: "
	ReasonDatabase    = "the database refused the row: "
)

// Committed hears, after a batch committed, the newest read time of its
// stored lines and the newest of their own times (nil when none has one):
// metrics of end-to-end lag.
type Committed func(read time.Time, logTime *time.Time)

// newestCommitted calls c with the newest times of rows [0,n) but the bad
// ones; at gives row i's read time and own time.
func newestCommitted(c Committed, n int, bad map[int]string, at func(i int) (time.Time, *time.Time)) {
	if c == nil {
		return
	}
	var read time.Time
	var logTime *time.Time
	for i := range n {
		if _, isBad := bad[i]; isBad {
			continue
		}
		r, l := at(i)
		if r.After(read) {
			read = r
		}
		if l != nil && (logTime == nil || l.After(*logTime)) {
			logTime = l
		}
	}
	if !read.IsZero() {
		c(read, logTime)
	}
}

// RawWriter is the part of the store the lake consumer needs.
type RawWriter interface {
	WriteRaw(ctx context.Context, lines []record.Line) error
}

// CleanWriter is the part of the store the clean consumer needs.
type CleanWriter interface {
	WriteClean(ctx context.Context, rows []clean.Row) error
}

// decoded is one line with the delivery it came in.
type decoded struct {
	delivery int
	line     record.Line
}

// SourceWriter stores source announcements (see broker.EncodeSource). Both
// consumers store them, so a file's host and path are in log_source
// whichever consumer runs.
type SourceWriter interface {
	RecordSources(ctx context.Context, srcs []record.Source) error
}

// decodeBatch unpacks deliveries into lines and stores the source
// announcements among them (when w is not nil); a delivery that cannot be
// decoded is rejected whole.
func decodeBatch(ctx context.Context, w SourceWriter, batch []amqp.Delivery) ([]decoded, []broker.Reject, error) {
	var out []decoded
	var rejects []broker.Reject
	var lines []record.Line
	var srcs []record.Source
	for i := range batch {
		if broker.IsSource(&batch[i]) {
			src, err := broker.DecodeSource(&batch[i])
			if err != nil {
				rejects = append(rejects, broker.Reject{Index: i, Reason: ReasonUndecodable + err.Error()})
				continue
			}
			srcs = append(srcs, src)
			continue
		}
		var err error
		lines, err = broker.Decode(lines[:0], &batch[i])
		if err != nil {
			rejects = append(rejects, broker.Reject{Index: i, Reason: ReasonUndecodable + err.Error()})
			continue
		}
		for _, l := range lines {
			out = append(out, decoded{delivery: i, line: l})
		}
	}
	if len(srcs) > 0 && w != nil {
		if err := w.RecordSources(ctx, srcs); err != nil {
			return nil, nil, err
		}
	}
	return out, rejects, nil
}

// sourceWriter is st as a SourceWriter, or nil when it is not one.
func sourceWriter(st any) SourceWriter {
	w, _ := st.(SourceWriter)
	return w
}

// Lake is the data-lake consumer's handler: every line, byte for byte.
type Lake struct {
	Store    RawWriter
	Observe  Observer
	OnCommit Committed
}

var _ broker.Handler = (*Lake)(nil)

// Handle implements broker.Handler.
func (h *Lake) Handle(ctx context.Context, batch []amqp.Delivery) ([]broker.Reject, error) {
	items, rejects, err := decodeBatch(ctx, sourceWriter(h.Store), batch)
	if err != nil {
		return nil, err
	}
	lines := make([]record.Line, len(items))
	for i := range items {
		lines[i] = items[i].line
	}
	bad, err := isolate(ctx, len(lines), func(ctx context.Context, lo, hi int) error {
		return h.Store.WriteRaw(ctx, lines[lo:hi])
	})
	if err != nil {
		return nil, err
	}
	rejects = appendRejects(rejects, items, bad)
	notify(h.Observe, items, bad, nil)
	newestCommitted(h.OnCommit, len(lines), bad, func(i int) (time.Time, *time.Time) { return lines[i].ReceivedAt, nil })
	return rejects, nil
}

// DeadLetterStore dead-letters each line once. When the Store of a Clean
// handler implements it, a line delivered twice, one after the other or at
// once, is dead-lettered once (see broker.DeadLetterLog).
type DeadLetterStore interface {
	DeadLetterOnce(ctx context.Context, ids []record.ID, publish func(fresh []record.ID) error) error
}

// Clean is the data-clean consumer's handler: parse, build the typed row,
// store. A line that does not fit the format is dead-lettered with the
// parser's reason; a line that fits always makes a row.
type Clean struct {
	Store  CleanWriter
	Parser logformat.Parser
	// FormatName is stored with each row; for "auto" the chosen preset.
	FormatName func() string
	Observe    Observer
	OnCommit   Committed
	// Enricher, when set, fills the enrichment columns (internal/enrich).
	Enricher interface{ Enrich(*clean.Row) }

	// parseMu serialises parsing: Handle runs on several writers at once
	// and an auto parser remembers its choice.
	parseMu sync.Mutex
}

var _ broker.Handler = (*Clean)(nil)

// Handle implements broker.Handler.
func (h *Clean) Handle(ctx context.Context, batch []amqp.Delivery) ([]broker.Reject, error) {
	items, rejects, err := decodeBatch(ctx, sourceWriter(h.Store), batch)
	if err != nil {
		return nil, err
	}
	var entry logformat.Entry
	rows := make([]clean.Row, 0, len(items))
	rowItems := make([]decoded, 0, len(items))
	var unparsed []decoded
	h.parseMu.Lock()
	for _, it := range items {
		if err := h.Parser.Parse(it.line.Data, &entry); err != nil {
			rejects = append(rejects, broker.Reject{Index: it.delivery, Line: &it.line, Reason: ReasonFormat + err.Error()})
			unparsed = append(unparsed, it)
			continue
		}
		rows = append(rows, clean.Build(&it.line, &entry, h.FormatName()))
		rowItems = append(rowItems, it)
	}
	h.parseMu.Unlock()
	if h.Enricher != nil {
		for i := range rows {
			h.Enricher.Enrich(&rows[i])
		}
	}
	bad, err := isolate(ctx, len(rows), func(ctx context.Context, lo, hi int) error {
		return h.Store.WriteClean(ctx, rows[lo:hi])
	})
	if err != nil {
		return nil, err
	}
	rejects = appendRejects(rejects, rowItems, bad)
	notify(h.Observe, rowItems, bad, unparsed)
	newestCommitted(h.OnCommit, len(rows), bad, func(i int) (time.Time, *time.Time) { return rows[i].ReceivedAt, rows[i].Time })
	return rejects, nil
}

var _ broker.DeadLetterLog = (*Clean)(nil)

// rejectID is the line id a reject is remembered by; ok is false for a
// message without a Datastream id, which is always dead-lettered.
func rejectID(batch []amqp.Delivery, r broker.Reject) (record.ID, bool) {
	if r.Line != nil {
		return r.Line.ID, true
	}
	id, err := record.ParseID(batch[r.Index].MessageId)
	return id, err == nil
}

// DeadLetterOnce implements broker.DeadLetterLog: send gets the rejects
// whose line was not dead-lettered before, one per line, and the record of
// them commits only when send succeeded.
func (h *Clean) DeadLetterOnce(ctx context.Context, batch []amqp.Delivery, rejects []broker.Reject, send func([]broker.Reject) error) error {
	dls, ok := h.Store.(DeadLetterStore)
	if !ok {
		return send(rejects)
	}
	var anon []broker.Reject // no Datastream id: always sent
	first := map[record.ID]broker.Reject{}
	ids := make([]record.ID, 0, len(rejects))
	for _, r := range rejects {
		id, ok := rejectID(batch, r)
		switch {
		case !ok:
			anon = append(anon, r)
		case !hasKey(first, id):
			first[id] = r
			ids = append(ids, id)
		}
	}
	return dls.DeadLetterOnce(ctx, ids, func(fresh []record.ID) error {
		out := append([]broker.Reject(nil), anon...)
		for _, id := range fresh {
			out = append(out, first[id])
		}
		return send(out)
	})
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

func appendRejects(rejects []broker.Reject, items []decoded, bad map[int]string) []broker.Reject {
	for i, reason := range bad {
		it := items[i]
		rejects = append(rejects, broker.Reject{Index: it.delivery, Line: &it.line, Reason: ReasonDatabase + reason})
	}
	return rejects
}

func notify(obs Observer, items []decoded, bad map[int]string, unparsed []decoded) {
	if obs == nil {
		return
	}
	stored := make([]record.ID, 0, len(items))
	rejected := make([]record.ID, 0, len(bad)+len(unparsed))
	for i, it := range items {
		if _, isBad := bad[i]; isBad {
			rejected = append(rejected, it.line.ID)
		} else {
			stored = append(stored, it.line.ID)
		}
	}
	for _, it := range unparsed {
		rejected = append(rejected, it.line.ID)
	}
	obs(stored, rejected)
}

// isolate writes rows [0,n) with write. When the database refuses the
// content of some row, it splits the range until the refused rows stand
// alone, so they can be dead-lettered while every other row commits. Any
// other error (database down, deadlock) is returned for the whole batch to
// be retried.
func isolate(ctx context.Context, n int, write func(ctx context.Context, lo, hi int) error) (map[int]string, error) {
	bad := map[int]string{}
	var rec func(lo, hi int) error
	rec = func(lo, hi int) error {
		if lo >= hi {
			return nil
		}
		err := write(ctx, lo, hi)
		if err == nil {
			return nil
		}
		if !store.IsDataError(err) {
			return err
		}
		if hi-lo == 1 {
			bad[lo] = err.Error()
			return nil
		}
		mid := (lo + hi) / 2
		if err := rec(lo, mid); err != nil {
			return err
		}
		return rec(mid, hi)
	}
	if err := rec(0, n); err != nil {
		return nil, err
	}
	return bad, nil
}
