package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/record"
)

// Reject marks one line of a batch that can never be stored; it goes to the
// dead-letter queue as a message of its own with Reason in a header, while
// the other lines of its message are stored.
type Reject struct {
	Index  int          // delivery the line came in
	Line   *record.Line // the line; nil to dead-letter the delivery as it is
	Reason string
}

// Handler stores a batch of deliveries. A nil error means every delivery not
// listed in rejects is durably stored; an error means nothing can be assumed
// and the batch is tried again later.
type Handler interface {
	Handle(ctx context.Context, batch []amqp.Delivery) (rejects []Reject, err error)
}

// DeadLetterLog is implemented by a Handler that dead-letters each line
// once. A line delivered again (the producer resent it after a lost confirm
// or a restart, a consumer died before its ack), or twice at once (a resend
// beside a redelivery, in one batch or in two writers' batches) would
// otherwise land in the dead-letter queue once per delivery. Only a crash
// between the broker's confirm of a dead letter and the record of it, or a
// confirm lost with the connection, can still repeat one; every dead letter
// of a line carries the line's id as message_id, so a reader drops repeats.
type DeadLetterLog interface {
	// DeadLetterOnce calls send with the rejects of batch whose line was
	// not dead-lettered before, one per line, and records them only if
	// send succeeds; an error means nothing was recorded.
	DeadLetterOnce(ctx context.Context, batch []amqp.Delivery, rejects []Reject, send func([]Reject) error) error
}

// ConsumerConfig configures Consume.
type ConsumerConfig struct {
	Dialer   Dialer
	Topology Topology
	Queue    string
	// Prefetch bounds unacked deliveries held by this consumer.
	Prefetch int
	// BatchSize is the most deliveries handed to Handle at once.
	BatchSize int
	// Linger is how long a partial batch waits for more deliveries. Under load
	// batches fill while the previous one is written, so it only adds latency
	// when traffic is light.
	Linger time.Duration
	// ShutdownGrace bounds the final flush after ctx is cancelled.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	// OnBatch, if set, is called after a batch is acked (for metrics and tests).
	OnBatch func(stored, rejected int)
	// Writers is how many batches are stored at once (default 2): while one
	// commits, the next is filled and written on another connection. Acks
	// still go out in delivery order, each batch only after every batch
	// before it is acked.
	Writers int
	// BatchBytes ends a batch early once its bodies reach this size
	// (default 512 KiB), so packed messages make transactions of about the
	// same size as single lines do and memory stays bounded.
	BatchBytes int
	// PrefetchLines bounds Prefetch × lines per message. RabbitMQ counts
	// prefetch in messages, so a prefetch chosen for one line per message
	// would hold 100 times as many lines once the producer packs 100: when
	// packed deliveries exceed the bound, the consumer finishes the batches
	// in hand and subscribes again with Prefetch = PrefetchLines / lines
	// per message (what was not acked comes back; writes are idempotent).
	// 0 keeps Prefetch whatever arrives.
	PrefetchLines int
}

// prefetchTooHigh ends a session so the next one subscribes with a lower
// prefetch.
type prefetchTooHigh struct{ prefetch, lines int }

func (e *prefetchTooHigh) Error() string {
	return fmt.Sprintf("packed messages of %d lines: prefetch lowered to %d", e.lines, e.prefetch)
}

// Consume runs until ctx is cancelled, reconnecting whenever the broker goes
// away. Acks are sent only after Handle succeeded, so a crash anywhere
// leaves the messages in the queue to be delivered again.
func Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2000
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.BatchSize > cfg.Prefetch {
		cfg.BatchSize = cfg.Prefetch
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 10 * time.Millisecond
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 2
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 512 << 10
	}
	log := cfg.Logger.With("component", "consumer", "queue", cfg.Queue)
	var bo Backoff
	for {
		err := consumeSession(ctx, cfg, h, log, &bo)
		if ctx.Err() != nil {
			return nil
		}
		var lower *prefetchTooHigh
		if errors.As(err, &lower) {
			log.Info("packed messages: subscribing again with a lower prefetch so memory stays bounded",
				"lines_per_message", lower.lines, "prefetch_was", cfg.Prefetch, "prefetch", lower.prefetch, "prefetch_lines", cfg.PrefetchLines)
			cfg.Prefetch = lower.prefetch
			cfg.BatchSize = min(cfg.BatchSize, cfg.Prefetch)
			continue
		}
		d := bo.Next()
		log.Warn("consumer session ended; reconnecting", "err", err, "in", d.Round(time.Millisecond))
		Sleep(ctx, d)
	}
}

func consumeSession(ctx context.Context, cfg ConsumerConfig, h Handler, log *slog.Logger, bo *Backoff) error {
	conn, ch, err := cfg.Dialer.Channel()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := cfg.Topology.Declare(ch); err != nil {
		return err
	}
	if err := ch.Qos(cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	dl, err := newDeadLetterer(conn, cfg.Topology.DeadLetterExchange(), cfg.Queue)
	if err != nil {
		return err
	}
	const tag = "datastream"
	deliveries, err := ch.Consume(cfg.Queue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %q: %w", cfg.Queue, err)
	}
	bo.Reset()
	log.Debug("consuming")

	// Writers store batches concurrently; each acks only after the batch
	// before it is acked (prev), so a multiple ack never covers a batch that
	// is not stored.
	jobs := make(chan writeJob)
	werr := make(chan error, cfg.Writers)
	var wg sync.WaitGroup
	for range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := flush(ctx, cfg, h, dl, ch, j.batch, log, j.prev)
				j.me.ok = err == nil
				close(j.me.done)
				if err != nil {
					select {
					case werr <- err:
					default:
					}
				}
			}
		}()
	}
	stop := func(err error) error {
		close(jobs)
		wg.Wait()
		select {
		case e := <-werr:
			if err == nil {
				err = e
			}
		default:
		}
		return err
	}
	prev := &turn{done: make(chan struct{}), ok: true}
	close(prev.done)
	dispatch := func(batch []amqp.Delivery) error {
		me := &turn{done: make(chan struct{})}
		select {
		case jobs <- writeJob{batch: batch, prev: prev, me: me}:
			prev = me
			return nil
		case err := <-werr:
			return err
		}
	}

	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		batch := make([]amqp.Delivery, 0, cfg.BatchSize)
		// Wait for the first delivery of a batch.
		select {
		case <-ctx.Done():
			return stop(nil)
		case err := <-werr:
			return stop(err)
		case d, ok := <-deliveries:
			if !ok {
				return stop(errors.New("delivery channel closed"))
			}
			batch = append(batch, d)
		}
		// Then take what is there, waiting at most Linger for the rest.
		linger.Reset(cfg.Linger)
		open := true
		size := len(batch[0].Body)
	fill:
		for len(batch) < cfg.BatchSize && size < cfg.BatchBytes {
			select {
			case d, ok := <-deliveries:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, d)
				size += len(d.Body)
			case <-linger.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		linger.Stop()
		lower := cfg.lowerPrefetch(batch)
		if ctx.Err() != nil || lower != nil {
			// Stop taking messages, then finish the batch in hand.
			_ = ch.Cancel(tag, false)
		}
		if err := dispatch(batch); err != nil {
			return stop(err)
		}
		if !open {
			return stop(errors.New("delivery channel closed"))
		}
		if ctx.Err() != nil {
			return stop(nil)
		}
		if lower != nil {
			return stop(lower)
		}
	}
}

// lowerPrefetch says whether the packed deliveries of batch hold more lines
// than PrefetchLines allows at this prefetch, and the prefetch to use.
func (cfg *ConsumerConfig) lowerPrefetch(batch []amqp.Delivery) *prefetchTooHigh {
	if cfg.PrefetchLines <= 0 {
		return nil
	}
	n := 1
	for i := range batch {
		n = max(n, LineCount(&batch[i]))
	}
	if cfg.Prefetch*n <= cfg.PrefetchLines {
		return nil
	}
	return &prefetchTooHigh{prefetch: max(1, cfg.PrefetchLines/n), lines: n}
}

// writeJob is one batch for a writer; prev is the turn of the batch before.
type writeJob struct {
	batch    []amqp.Delivery
	prev, me *turn
}

// turn tells the next batch when this one is settled; ok is set before
// done is closed and says it was acked.
type turn struct {
	done chan struct{}
	ok   bool
}

var errEarlierBatch = errors.New("an earlier batch was not stored; leaving this one unacked")

// errDeadLetterNacked: RabbitMQ refused a dead letter.
var errDeadLetterNacked = errors.New("nacked by the broker")

// flush hands the batch to h until it succeeds, dead-letters the rejects,
// then acks the whole batch with one multiple ack.
func flush(ctx context.Context, cfg ConsumerConfig, h Handler, dl *deadLetterer, ch *amqp.Channel, batch []amqp.Delivery, log *slog.Logger, prev *turn) error {
	// The batch in hand is finished even if shutdown begins meanwhile: its
	// context ends only ShutdownGrace after ctx does.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(cfg.ShutdownGrace, cancel) })
	defer stopGrace()
	var bo Backoff
	for {
		rejects, err := h.Handle(hctx, batch)
		nrej := len(rejects)
		if err == nil && len(rejects) > 0 {
			send := func(rs []Reject) error { return dl.sendAll(hctx, batch, rs) }
			if dll, ok := h.(DeadLetterLog); ok {
				err = dll.DeadLetterOnce(hctx, batch, rejects, send)
			} else {
				err = send(rejects)
			}
		}
		if err == nil {
			<-prev.done
			if !prev.ok {
				return errEarlierBatch
			}
			if err := ch.Ack(batch[len(batch)-1].DeliveryTag, true); err != nil {
				return fmt.Errorf("ack: %w", err)
			}
			if cfg.OnBatch != nil {
				cfg.OnBatch(len(batch)-nrej, nrej)
			}
			return nil
		}
		if errors.Is(err, errDeadLetterNacked) {
			// A channel RabbitMQ nacks stays that way on some versions
			// (3.10, opened while quorum queues elect a leader): retrying on
			// it stalls the queue until the node returns. A new session has
			// new channels; the batch, unacked, comes again.
			return fmt.Errorf("%w; reconnecting", err)
		}
		d := bo.Next()
		log.Warn("storing batch failed; will retry, messages stay unacked", "err", err, "size", len(batch), "in", d.Round(time.Millisecond))
		if !Sleep(hctx, d) {
			if ctx.Err() == nil {
				return hctx.Err()
			}
			// Shutting down and the store is still failing: leave the batch
			// unacked; RabbitMQ delivers it again to the next consumer.
			return fmt.Errorf("gave up on a batch at shutdown: %w", err)
		}
		if ch.IsClosed() || dl.ch.IsClosed() {
			return errors.New("channel closed while retrying a batch")
		}
	}
}

// deadLetterer republishes a rejected message to the dead-letter exchange
// with the reason, waiting for the confirm before the original is acked.
type deadLetterer struct {
	ch       *amqp.Channel
	exchange string
	queue    string
}

func newDeadLetterer(conn *amqp.Connection, exchange, queue string) (*deadLetterer, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open dead-letter channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable confirms on dead-letter channel: %w", err)
	}
	return &deadLetterer{ch: ch, exchange: exchange, queue: queue}, nil
}

// sendAll dead-letters rejects: it publishes them all, then waits for
// every confirm.
func (d *deadLetterer) sendAll(ctx context.Context, batch []amqp.Delivery, rejects []Reject) error {
	confs := make([]*amqp.DeferredConfirmation, 0, len(rejects))
	for _, r := range rejects {
		m := &batch[r.Index]
		conf, err := d.ch.PublishWithDeferredConfirmWithContext(ctx, d.exchange, d.queue, true, false, d.publishing(m, r.Line, r.Reason))
		if err != nil {
			return fmt.Errorf("dead-letter message %s: %w", m.MessageId, err)
		}
		confs = append(confs, conf)
	}
	for i, conf := range confs {
		id := batch[rejects[i].Index].MessageId
		ok, err := conf.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("dead-letter message %s: %w", id, err)
		}
		if !ok {
			return fmt.Errorf("dead-letter message %s: %w", id, errDeadLetterNacked)
		}
	}
	return nil
}

// publishing is the dead letter of line (nil: the whole message m) with the
// reason. A line's dead letter has the line's id as message_id.
func (d *deadLetterer) publishing(m *amqp.Delivery, line *record.Line, reason string) amqp.Publishing {
	pub := amqp.Publishing{
		ContentType:  m.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.MessageId,
		Timestamp:    m.Timestamp,
		Headers:      amqp.Table{},
		Body:         m.Body,
	}
	for k, v := range m.Headers {
		pub.Headers[k] = v
	}
	if line != nil {
		pub.MessageId = line.ID.String()
		if m.ContentType == ContentTypeLines {
			one := EncodeLine(line)
			pub.ContentType, pub.Body = one.ContentType, one.Body
			delete(pub.Headers, HeaderLineCount)
		}
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	pub.Headers[HeaderReason] = reason
	pub.Headers[HeaderQueue] = d.queue
	return pub
}
