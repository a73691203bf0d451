package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/testenv"
)

// rejectOdd stores everything but rejects every message whose line ends in
// an odd digit.
type rejectOdd struct {
	mu   sync.Mutex
	seen map[string]int
}

func (h *rejectOdd) Handle(_ context.Context, batch []amqp.Delivery) ([]broker.Reject, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var rejects []broker.Reject
	for i, d := range batch {
		h.seen[d.MessageId]++
		if b := d.Body[len(d.Body)-1]; (b-'0')%2 == 1 {
			rejects = append(rejects, broker.Reject{Index: i, Reason: "odd"})
		}
	}
	return rejects, nil
}

func TestPublishConsumeDeadLetter(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, qt := range []string{"classic", "quorum"} {
		t.Run(qt, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t)
			topo := env.Topology(qt)
			const n = 3000
			var confirmed atomic.Int64
			pub := broker.NewPublisher(broker.PublisherConfig{
				Dialer: env.Dialer(), Topology: topo, Window: 256,
				OnConfirm: func(any) { confirmed.Add(1) },
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := range n {
				l := record.Line{ID: record.NewID([8]byte{7}, int64(i)), ReceivedAt: time.Now(), Data: fmt.Appendf(nil, "line %d", i)}
				if err := pub.Publish(ctx, broker.EncodeLine(&l), i); err != nil {
					t.Fatal(err)
				}
			}
			if err := pub.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if confirmed.Load() != n {
				t.Fatalf("confirmed %d of %d", confirmed.Load(), n)
			}

			h := &rejectOdd{seen: map[string]int{}}
			var stored, rejected atomic.Int64
			cctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- broker.Consume(cctx, broker.ConsumerConfig{
					Dialer: env.Dialer(), Topology: topo, Queue: env.LakeQueue, Prefetch: 500, BatchSize: 100,
					OnBatch: func(s, r int) { stored.Add(int64(s)); rejected.Add(int64(r)) },
				}, h)
			}()
			deadline := time.Now().Add(30 * time.Second)
			for stored.Load()+rejected.Load() < n && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if stored.Load() != n/2 || rejected.Load() != n/2 {
				t.Fatalf("stored %d rejected %d, want %d each", stored.Load(), rejected.Load(), n/2)
			}
			// Nothing failed, so nothing was delivered twice.
			if len(h.seen) != n {
				t.Fatalf("handled %d distinct messages, want %d", len(h.seen), n)
			}
			for id, k := range h.seen {
				if k != 1 {
					t.Fatalf("message %s handled %d times", id, k)
				}
			}
			if d := env.QueueDepth(t, env.LakeQueue); d != 0 {
				t.Fatalf("%d messages left unacked in the queue", d)
			}
			if d := env.QueueDepth(t, env.CleanQueue); d != n {
				t.Fatalf("the other queue holds %d, want %d (fan-out)", d, n)
			}
			// The dead letter carries the reason.
			conn, err := env.Dialer().Dial()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ch, _ := conn.Channel()
			m, ok, err := ch.Get(broker.DeadLetterQueue(env.LakeQueue), true)
			if err != nil || !ok {
				t.Fatalf("no dead letter: %v", err)
			}
			if m.Headers[broker.HeaderReason] != "odd" || m.Headers[broker.HeaderQueue] != env.LakeQueue {
				t.Fatalf("dead letter headers: %v", m.Headers)
			}
			if d := env.QueueDepth(t, broker.DeadLetterQueue(env.LakeQueue)); d != n/2-1 {
				t.Fatalf("dead-letter queue holds %d, want %d", d, n/2-1)
			}
		})
	}
}

// countLines records every line id it is handed.
type countLines struct {
	mu   sync.Mutex
	seen map[record.ID]int
}

func (h *countLines) Handle(_ context.Context, batch []amqp.Delivery) ([]broker.Reject, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range batch {
		lines, err := broker.Decode(nil, &batch[i])
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			h.seen[l.ID]++
		}
	}
	return nil, nil
}

// TestPackedMessagesLowerPrefetch: a consumer whose prefetch was chosen for
// one line per message subscribes again with a prefetch that keeps the
// lines it holds under PrefetchLines, and still gets every line.
func TestPackedMessagesLowerPrefetch(t *testing.T) {
	env := testenv.Parallel(t)
	topo := env.Topology("classic")
	const msgs, per = 60, 50
	pub := broker.NewPublisher(broker.PublisherConfig{Dialer: env.Dialer(), Topology: topo, Window: 64})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	off := int64(0)
	for m := range msgs {
		lines := make([]record.Line, per)
		for i := range lines {
			data := fmt.Appendf(nil, "message %d line %d", m, i)
			lines[i] = record.Line{ID: record.NewID([8]byte{8}, off), ReceivedAt: time.Now(), Data: data}
			off += int64(len(data)) + 1
		}
		if err := pub.Publish(ctx, broker.EncodeLines(lines), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}

	var logs testenv.SyncBuffer
	h := &countLines{seen: map[record.ID]int{}}
	var acked atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- broker.Consume(cctx, broker.ConsumerConfig{
			Dialer: env.Dialer(), Topology: topo, Queue: env.LakeQueue,
			Prefetch: 2000, BatchSize: 7, PrefetchLines: 500,
			Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
			OnBatch: func(s, _ int) { acked.Add(int64(s)) },
		}, h)
	}()
	// Wait for the acks, not for an empty queue: a passive declare counts
	// only ready messages, so the queue looks empty while the first
	// subscription holds all of them unacked.
	deadline := time.Now().Add(30 * time.Second)
	for acked.Load() < msgs && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := env.QueueDepth(t, env.LakeQueue); d != 0 {
		t.Fatalf("%d messages left in the queue", d)
	}
	if len(h.seen) != msgs*per {
		t.Fatalf("handled %d distinct lines, want %d", len(h.seen), msgs*per)
	}
	if !strings.Contains(logs.String(), "prefetch_was=2000 prefetch=10") {
		t.Fatalf("no resubscription with prefetch 500/50 = 10 in the log:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "subscribing again"); n != 1 {
		t.Fatalf("subscribed again %d times, want once", n)
	}
}

// TestDeadLetterNackEndsSession: when RabbitMQ nacks a dead letter, the
// consumer starts a new session (new connection and channels) instead of
// retrying on the channel that was refused, and once the broker accepts
// again every message is stored or dead-lettered and acked.
func TestDeadLetterNackEndsSession(t *testing.T) {
	env := testenv.Parallel(t)
	topo := env.Topology("classic")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := topo.DeclareWith(env.Dialer()); err != nil {
		t.Fatal(err)
	}
	// A queue that refuses every message, bound beside the dead-letter
	// queue: a message routed to it is nacked to the publisher.
	ch, closeCh := env.Channel(t)
	defer closeCh()
	full := env.LakeQueue + ".full"
	if _, err := ch.QueueDeclare(full, false, true, false, false, amqp.Table{"x-max-length": int32(0), "x-overflow": "reject-publish"}); err != nil {
		t.Fatal(err)
	}
	defer ch.QueueDelete(full, false, false, false) //nolint:errcheck
	if err := ch.QueueBind(full, env.LakeQueue, topo.DeadLetterExchange(), false, nil); err != nil {
		t.Fatal(err)
	}

	const n = 20
	pub := broker.NewPublisher(broker.PublisherConfig{Dialer: env.Dialer(), Topology: topo})
	for i := range n {
		l := record.Line{ID: record.NewID([8]byte{9}, int64(i)), ReceivedAt: time.Now(), Data: fmt.Appendf(nil, "line %d", i)}
		if err := pub.Publish(ctx, broker.EncodeLine(&l), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}

	var logs testenv.SyncBuffer
	var stored, rejected atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- broker.Consume(cctx, broker.ConsumerConfig{
			Dialer: env.Dialer(), Topology: topo, Queue: env.LakeQueue, Prefetch: 50, BatchSize: 50,
			Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
			OnBatch: func(s, r int) { stored.Add(int64(s)); rejected.Add(int64(r)) },
		}, &rejectOdd{seen: map[string]int{}})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(logs.String(), "consumer session ended") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "consumer session ended"); n < 2 || !strings.Contains(logs.String(), "nacked by the broker; reconnecting") {
		t.Fatalf("%d new sessions after nacked dead letters, want 2 or more:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "storing batch failed") {
		t.Fatalf("retried on the refused channel:\n%s", logs.String())
	}
	if stored.Load()+rejected.Load() != 0 {
		t.Fatalf("acked %d messages while dead letters were refused", stored.Load()+rejected.Load())
	}
	// The broker accepts again: everything is settled.
	if _, err := ch.QueueDelete(full, false, false, false); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for stored.Load()+rejected.Load() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if stored.Load() != n/2 || rejected.Load() != n/2 {
		t.Fatalf("stored %d, dead-lettered %d, want %d each", stored.Load(), rejected.Load(), n/2)
	}
	if d := env.QueueDepth(t, env.LakeQueue); d != 0 {
		t.Fatalf("%d messages left in the queue", d)
	}
}
