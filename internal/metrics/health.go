package metrics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
)

// ProbeTimeout bounds one probe; with a probe a second, /readyz turns
// unready within ProbeInterval+ProbeTimeout (3 s) of losing a dependency.
const (
	ProbeInterval = time.Second
	ProbeTimeout  = 2 * time.Second
)

// Health probes the dependencies a component needs and answers /readyz.
// Until Start is called the process is starting (not ready).
type Health struct {
	set *Set

	mu      sync.Mutex
	probes  []*probe
	started bool
}

type probe struct {
	target string
	check  func(ctx context.Context) error
	close  func()
	err    error
	ran    bool
}

// NewHealth returns an empty set of probes that reports to s.
func NewHealth(s *Set) *Health { return &Health{set: s} }

// Start marks the components running: from now on readiness is the probes'.
func (h *Health) Start() {
	h.mu.Lock()
	h.started = true
	h.mu.Unlock()
}

// AddSQL probes a database with a ping.
func (h *Health) AddSQL(target string, db *sql.DB) {
	h.add(&probe{target: target, check: db.PingContext, close: func() {}})
}

// AddAMQP probes RabbitMQ over a connection of its own: it must be open
// and every queue must exist; their depths become datastream_queue_messages.
// It dials with d (any node of a cluster will do), within ProbeTimeout.
func (h *Health) AddAMQP(target string, d broker.Dialer, queues []string) {
	d.Timeout, d.Heartbeat, d.OnDial = ProbeTimeout, 5*time.Second, nil
	a := &amqpProbe{d: d, queues: queues, depth: h.set.queueDepth}
	h.add(&probe{target: target, check: a.check, close: a.reset})
}

func (h *Health) add(p *probe) {
	h.mu.Lock()
	h.probes = append(h.probes, p)
	h.mu.Unlock()
}

// Run probes every ProbeInterval until ctx ends.
func (h *Health) Run(ctx context.Context) {
	t := time.NewTicker(ProbeInterval)
	defer t.Stop()
	defer func() {
		for _, p := range h.list() {
			p.close()
		}
	}()
	for {
		for _, p := range h.list() {
			err := runProbe(ctx, p)
			if ctx.Err() != nil {
				return
			}
			h.mu.Lock()
			p.err, p.ran = err, true
			h.mu.Unlock()
			v := 1.0
			if err != nil {
				v = 0
			}
			h.set.up.WithLabelValues(p.target).Set(v)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Health) list() []*probe {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*probe(nil), h.probes...)
}

// runProbe runs one check within ProbeTimeout. A check stuck past it (a
// network partition) has its connection dropped so it returns.
func runProbe(ctx context.Context, p *probe) error {
	pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.check(pctx) }()
	select {
	case err := <-done:
		return err
	case <-pctx.Done():
		p.close()
		<-done
		return fmt.Errorf("no answer within %s", ProbeTimeout)
	}
}

// Ready reports whether the process is ready and, if not, why.
func (h *Health) Ready() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		return false, "starting"
	}
	var why []string
	for _, p := range h.probes {
		switch {
		case !p.ran:
			why = append(why, p.target+": not probed yet")
		case p.err != nil:
			why = append(why, p.target+": "+p.err.Error())
		}
	}
	sort.Strings(why)
	return len(why) == 0, strings.Join(why, "; ")
}

// amqpProbe keeps one connection and channel to the broker.
type amqpProbe struct {
	d      broker.Dialer
	queues []string
	depth  *prometheus.GaugeVec

	mu   sync.Mutex
	raw  net.Conn
	conn *amqp.Connection
	ch   *amqp.Channel
}

func (a *amqpProbe) check(ctx context.Context) error {
	if err := a.connect(); err != nil {
		return err
	}
	a.mu.Lock()
	ch := a.ch
	a.mu.Unlock()
	for _, q := range a.queues {
		st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			a.reset()
			var ae *amqp.Error
			if errors.As(err, &ae) && ae.Code == amqp.NotFound {
				return fmt.Errorf("queue %q does not exist", q)
			}
			return err
		}
		a.depth.WithLabelValues(q).Set(float64(st.Messages))
	}
	return ctx.Err()
}

func (a *amqpProbe) connect() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil && !a.conn.IsClosed() && a.ch != nil && !a.ch.IsClosed() {
		return nil
	}
	a.resetLocked()
	conn, raw, err := a.d.DialSocket()
	a.raw = raw
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return fmt.Errorf("open channel: %w", err)
	}
	a.conn, a.ch = conn, ch
	return nil
}

// reset drops the connection; the socket is closed first so nothing waits
// on a peer that does not answer.
func (a *amqpProbe) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resetLocked()
}

func (a *amqpProbe) resetLocked() {
	if a.raw != nil {
		_ = a.raw.Close()
		a.raw = nil
	}
	if a.conn != nil {
		go a.conn.Close()
	}
	a.conn, a.ch = nil, nil
}
