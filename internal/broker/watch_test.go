package broker

import (
	"log/slog"
	"net"
	"testing"
	"time"
)

// A connection that stops confirming while messages wait is closed by the
// watchdog, also when the messages were never sent (the session is stuck
// before its loop); one that is idle, or blocked by the broker, is left
// alone.
func TestWatchClosesAStalledConnection(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pending   int // of the waiting messages, how many were sent
		waiting   int
		blocked   bool
		wantClose bool
	}{
		{"stalled", 3, 3, false, true},
		{"stuck before sending", 0, 3, false, true},
		{"idle", 0, 0, false, false},
		{"blocked by an alarm", 3, 3, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Publisher{cfg: PublisherConfig{ConfirmTimeout: 100 * time.Millisecond}, log: slog.Default(),
				pending: map[uint64]*outMsg{}, slots: make(chan struct{}, 8)}
			for range tc.waiting {
				p.slots <- struct{}{}
			}
			for i := range tc.pending {
				p.pending[uint64(i+1)] = &outMsg{}
			}
			p.blocked.Store(tc.blocked)
			p.progress.Store(time.Now().Add(-time.Minute).UnixNano())
			client, server := net.Pipe()
			defer server.Close()
			stop, dead := p.watch(client)
			time.Sleep(1500 * time.Millisecond) // the watch ticks every second
			stop()
			select {
			case <-dead:
				if !tc.wantClose {
					t.Fatal("dead signalled for a healthy connection")
				}
			default:
				if tc.wantClose {
					t.Fatal("dead not signalled for a stalled connection")
				}
			}
			_ = server.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_, err := server.Write([]byte("x"))
			closed := err != nil && !isTimeout(err)
			if closed != tc.wantClose {
				t.Fatalf("connection closed = %v (write error %v), want %v", closed, err, tc.wantClose)
			}
		})
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
