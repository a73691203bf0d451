package broker

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// When the connection dies, amqp091-go closes the returns channel before
// the confirms channel, and confirms already buffered can still be read.
// The confirmer must settle them and leave, not spin on the closed returns
// channel while holding the publisher's lock (what stalled the producer
// after a broker cut in TestRabbitMQOutage, about once in a dozen runs).
func TestConfirmerLeavesWhenTheChannelsClose(t *testing.T) {
	for _, tc := range []struct {
		name        string
		closeAcks   bool // the confirms channel is closed too
		stopFirst   bool // the session asked the confirmer to stop
		wantConfirm int
	}{
		{"both closed, one ack buffered", true, false, 1},
		{"stopped, one ack buffered", false, true, 1},
		{"both closed and stopped", true, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var confirmed int
			p := &Publisher{log: slog.Default(), pending: map[uint64]*outMsg{1: {pub: amqp.Publishing{MessageId: "a"}}},
				returned: map[string]bool{}, slots: make(chan struct{}, 4), kick: make(chan struct{}, 1)}
			p.cfg.OnConfirm = func(any) { confirmed++ }
			p.idle = sync.NewCond(&p.mu)
			p.slots <- struct{}{}
			confirms := make(chan amqp.Confirmation, 2)
			confirms <- amqp.Confirmation{DeliveryTag: 1, Ack: true}
			if tc.closeAcks {
				close(confirms)
			}
			returns := make(chan amqp.Return, 2)
			close(returns)
			stop := make(chan struct{})
			if tc.stopFirst {
				close(stop)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				p.confirmer(confirms, returns, stop)
			}()
			if !tc.stopFirst {
				// The session stops it once it sees the connection gone.
				time.Sleep(50 * time.Millisecond)
				close(stop)
			}
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Fatal("the confirmer did not return: it spins on the closed returns channel")
			}
			if !p.mu.TryLock() {
				t.Fatal("the publisher's lock is still held")
			}
			p.mu.Unlock()
			if confirmed != tc.wantConfirm || len(p.slots) != 0 {
				t.Fatalf("confirmed %d (slots left %d), want %d and 0", confirmed, len(p.slots), tc.wantConfirm)
			}
		})
	}
}
