package metrics

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
)

// Consumer instruments one consumer component.
type Consumer struct {
	s                     *Set
	component             string
	newestRead, newestLog atomic.Int64 // unix ns
}

// Consumer returns the instrumentation of the named consumer.
func (s *Set) Consumer(component string) *Consumer { return &Consumer{s: s, component: component} }

// Handler wraps h: messages, batch sizes and durations, failed batches, dead
// letters by reason class. A handler that keeps a dead-letter log keeps it.
func (c *Consumer) Handler(h broker.Handler) broker.Handler {
	w := &handler{h: h, c: c}
	if dl, ok := h.(broker.DeadLetterLog); ok {
		return struct {
			*handler
			broker.DeadLetterLog
		}{w, dl}
	}
	return w
}

type handler struct {
	h broker.Handler
	c *Consumer
}

func (w *handler) Handle(ctx context.Context, batch []amqp.Delivery) ([]broker.Reject, error) {
	s, comp := w.c.s, w.c.component
	start := time.Now()
	rejects, err := w.h.Handle(ctx, batch)
	if err != nil {
		s.batchErrors.WithLabelValues(comp).Inc()
		if store.ConnectionLost(err) {
			// database/sql drops the connection and opens another.
			s.reconnects.WithLabelValues(comp, "mysql").Inc()
		}
		return rejects, err
	}
	s.batchSeconds.WithLabelValues(comp).Observe(time.Since(start).Seconds())
	s.batchMessages.WithLabelValues(comp).Observe(float64(len(batch)))
	s.consumed.WithLabelValues(comp).Add(float64(len(batch)))
	for _, r := range rejects {
		s.deadLetters.WithLabelValues(comp, ReasonClass(r.Reason)).Inc()
	}
	return rejects, nil
}

// ReasonClass maps a dead letter's reason to a label with few values.
func ReasonClass(reason string) string {
	switch {
	case strings.HasPrefix(reason, pipeline.ReasonUndecodable):
		return "undecodable"
	case strings.HasPrefix(reason, pipeline.ReasonFormat):
		return "format"
	case strings.HasPrefix(reason, pipeline.ReasonDatabase):
		return "database"
	}
	return "other"
}

// Observer wraps a pipeline observer (nil: none) to count rows written.
func (c *Consumer) Observer(next func(stored, rejected []record.ID)) func(stored, rejected []record.ID) {
	rows := c.s.rows.WithLabelValues(c.component)
	return func(stored, rejected []record.ID) {
		rows.Add(float64(len(stored)))
		if next != nil {
			next(stored, rejected)
		}
	}
}

// Committed records the newest line of a committed batch: read is when
// the producer read it, logTime the log's own time (nil when unknown). It
// is a pipeline.Committed.
func (c *Consumer) Committed(read time.Time, logTime *time.Time) {
	if read.IsZero() {
		return
	}
	s := c.s
	if raiseTo(&c.newestRead, read.UnixNano()) {
		s.newestRead.WithLabelValues(c.component).Set(float64(read.UnixNano()) / 1e9)
	}
	s.commitLag.WithLabelValues(c.component).Observe(time.Since(read).Seconds())
	if logTime != nil && raiseTo(&c.newestLog, logTime.UnixNano()) {
		s.newestLog.WithLabelValues(c.component).Set(float64(logTime.UnixNano()) / 1e9)
	}
}

// raiseTo sets v to n if n is larger and reports whether it did (batches of
// several writers commit out of order).
func raiseTo(v *atomic.Int64, n int64) bool {
	for {
		old := v.Load()
		if n <= old {
			return false
		}
		if v.CompareAndSwap(old, n) {
			return true
		}
	}
}
