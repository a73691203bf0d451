package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("publisher closed")

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	Dialer   Dialer
	Topology Topology
	// Window is how many messages may wait for their confirm at once. When it
	// is full Publish blocks, which pauses the reader upstream: memory stays
	// bounded however slow or blocked the broker is.
	Window int
	// OnConfirm is called once per message, from one goroutine, when
	// RabbitMQ has confirmed it (it is then on disk in every queue).
	OnConfirm func(token any)
	// ConfirmTimeout: when messages are outstanding, the broker is not
	// blocking publishers, and no confirm has come for this long, the
	// connection is reset and everything unconfirmed is sent again
	// (default 20s). It guards against a connection that hangs without
	// failing.
	ConfirmTimeout time.Duration
	Logger         *slog.Logger
	// OnRetry, if set, hears of every message the broker nacked or returned
	// (nacked true) and of every message sent again (nacked false).
	OnRetry func(nacked bool)
}

type outMsg struct {
	pub   amqp.Publishing
	token any
	seq   uint64 // delivery tag on the channel it was last sent on
}

// Publisher publishes persistent messages with confirms, many in flight. It
// keeps every message until RabbitMQ confirms it: when the connection drops
// it reconnects with backoff, re-declares the topology and publishes again
// everything unconfirmed, so a message can arrive twice but never not at all.
type Publisher struct {
	cfg   PublisherConfig
	log   *slog.Logger
	slots chan struct{} // one per unconfirmed message
	queue chan *outMsg
	kick  chan struct{} // retry has work
	done  chan struct{} // closed when the loop exits
	stop  context.CancelFunc

	mu       sync.Mutex
	pending  map[uint64]*outMsg // by delivery tag on the current channel
	retry    []*outMsg          // to send again, in order
	returned map[string]bool    // message ids the broker could not route
	idle     *sync.Cond         // signalled when a slot frees
	progress atomic.Int64       // unix ns of the last confirm, or of the first send after none were pending
	sessions atomic.Int64       // sessions that reached publishing
	blocked  atomic.Bool        // the broker said it blocks publishing
	// restart, when set by the confirmer, ends the session with it: a
	// message returned as unroutable (someone deleted a queue or binding:
	// declare the topology again) or nacked (a channel opened while a
	// quorum queue elected its leader can go on nacking every publish for
	// good, seen with RabbitMQ 3.10 after kill -9 of the leader's node,
	// while a new channel publishes fine). Every session declares the
	// topology on a new channel, so both start one.
	restart error
}

var (
	errUnroutable = errors.New("messages were unroutable; declaring the topology again")
	errNacked     = errors.New("messages were nacked; publishing them again on a new channel")
)

// NewPublisher starts a publisher; it connects in the background.
func NewPublisher(cfg PublisherConfig) *Publisher {
	if cfg.Window <= 0 {
		cfg.Window = 2048
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConfirmTimeout <= 0 {
		cfg.ConfirmTimeout = 20 * time.Second
	}
	if cfg.OnConfirm == nil {
		cfg.OnConfirm = func(any) {}
	}
	if cfg.OnRetry == nil {
		cfg.OnRetry = func(bool) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "publisher"),
		slots:    make(chan struct{}, cfg.Window),
		queue:    make(chan *outMsg, cfg.Window),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stop:     cancel,
		pending:  map[uint64]*outMsg{},
		returned: map[string]bool{},
	}
	p.idle = sync.NewCond(&p.mu)
	go p.loop(ctx)
	return p
}

// Publish queues one message. It blocks while the window is full and
// returns only ctx's error or ErrClosed; delivery is then the publisher's
// job until OnConfirm reports it.
func (p *Publisher) Publish(ctx context.Context, pub amqp.Publishing, token any) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return ErrClosed
	}
	select {
	case p.queue <- &outMsg{pub: pub, token: token}:
		return nil
	case <-ctx.Done():
		<-p.slots
		return ctx.Err()
	case <-p.done:
		<-p.slots
		return ErrClosed
	}
}

// Reconnects is how many times the publisher has connected again after its
// first session: what was sent once per connection (a producer's source
// announcements) is sent again when it changes.
func (p *Publisher) Reconnects() int64 { return max(0, p.sessions.Load()-1) }

// InFlight is the number of messages not yet confirmed.
func (p *Publisher) InFlight() int { return len(p.slots) }

// Wait blocks until every published message is confirmed, or ctx ends.
func (p *Publisher) Wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.idle.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.slots) > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("%d messages still unconfirmed: %w", len(p.slots), ctx.Err())
		}
		select {
		case <-p.done:
			return ErrClosed
		default:
		}
		p.idle.Wait()
	}
	return nil
}

// Close waits for outstanding confirms until ctx ends, then disconnects.
func (p *Publisher) Close(ctx context.Context) error {
	err := p.Wait(ctx)
	p.stop()
	<-p.done
	return err
}

func (p *Publisher) loop(ctx context.Context) {
	defer close(p.done)
	defer func() {
		p.mu.Lock()
		p.idle.Broadcast()
		p.mu.Unlock()
	}()
	var bo Backoff
	for ctx.Err() == nil {
		err := p.session(ctx, &bo)
		if ctx.Err() != nil {
			return
		}
		d := bo.Next()
		p.log.Warn("broker connection lost; reconnecting", "err", err, "in", d.Round(1e6), "unconfirmed", len(p.slots))
		Sleep(ctx, d)
	}
}

// session runs one connection: connect, declare, resend what is
// unconfirmed, then publish until the connection fails.
func (p *Publisher) session(ctx context.Context, bo *Backoff) error {
	conn, raw, err := p.cfg.Dialer.dial()
	if err != nil {
		return err
	}
	// Tearing down never waits on the AMQP library: the socket is dropped
	// (which ends any read or write on it), what this channel did not
	// confirm is queued to go again on the next one, and the polite close
	// runs in the background, so a wedged connection cannot wedge the
	// publisher.
	stopWatch, dead := func() {}, (<-chan struct{})(nil)
	var confirmerStop, confirmerDone chan struct{}
	defer func() {
		stopWatch()
		if raw != nil {
			_ = raw.Close()
		}
		if confirmerDone != nil {
			close(confirmerStop)
			p.awaitConfirmer(confirmerDone)
			p.requeuePending()
		}
		go conn.Close()
	}()
	p.blocked.Store(false)
	p.progress.Store(time.Now().UnixNano())
	stopWatch, dead = p.watch(raw)
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := p.cfg.Topology.Declare(ch); err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("enable confirms: %w", err)
	}
	closes := ch.NotifyClose(make(chan *amqp.Error, 1))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, p.cfg.Window+1))
	returns := ch.NotifyReturn(make(chan amqp.Return, p.cfg.Window+1))
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))

	confirmerStop, confirmerDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(confirmerDone)
		p.confirmer(confirms, returns, confirmerStop)
	}()

	bo.Reset()
	p.sessions.Add(1)
	p.log.Debug("connected", "exchange", p.cfg.Topology.Exchange)

	for {
		p.mu.Lock()
		restart := p.restart
		p.restart = nil
		p.mu.Unlock()
		if restart != nil {
			return restart
		}
		if err := p.sendRetries(ch); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-closes:
			if !ok || e == nil {
				return errors.New("channel closed")
			}
			return e
		case <-dead:
			return errors.New("no confirm for too long; connection reset")
		case b, ok := <-blocked:
			if !ok {
				blocked = nil
				continue
			}
			p.blocked.Store(b.Active)
			p.progress.Store(time.Now().UnixNano())
			if b.Active {
				p.log.Warn("RabbitMQ blocked publishing (memory or disk alarm)", "reason", b.Reason)
			} else {
				p.log.Info("RabbitMQ unblocked publishing")
			}
		case <-p.kick:
		case m := <-p.queue:
			if err := p.send(ch, m); err != nil {
				return err
			}
		}
	}
}

// send publishes m on ch, registering it under its delivery tag first so a
// fast confirm always finds it.
func (p *Publisher) send(ch *amqp.Channel, m *outMsg) error {
	p.mu.Lock()
	m.seq = ch.GetNextPublishSeqNo()
	if len(p.pending) == 0 {
		p.progress.Store(time.Now().UnixNano())
	}
	p.pending[m.seq] = m
	p.mu.Unlock()
	if err := ch.Publish(p.cfg.Topology.Exchange, p.cfg.Topology.RoutingKey, true, false, m.pub); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

func (p *Publisher) sendRetries(ch *amqp.Channel) error {
	for {
		p.mu.Lock()
		if len(p.retry) == 0 {
			p.mu.Unlock()
			return nil
		}
		m := p.retry[0]
		p.retry = p.retry[1:]
		p.mu.Unlock()
		if err := p.send(ch, m); err != nil {
			return err
		}
		p.cfg.OnRetry(false)
	}
}

// awaitConfirmer waits for the confirmer to leave. It settles what has
// arrived and leaves at once, so a wait longer than ConfirmTimeout is a
// bug: it is logged rather than left silent.
func (p *Publisher) awaitConfirmer(done <-chan struct{}) {
	t := time.NewTimer(p.cfg.ConfirmTimeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
		p.log.Error("confirm handler has not stopped; the publisher waits for it", "after", p.cfg.ConfirmTimeout)
	}
	<-done
}

// confirmer settles confirms. A return for a message always precedes its
// confirm on the wire and the library hands both over in that order, so
// draining returns first tells whether an ack was for a routed message.
func (p *Publisher) confirmer(confirms <-chan amqp.Confirmation, returns <-chan amqp.Return, stop <-chan struct{}) {
	for {
		var c amqp.Confirmation
		var ok bool
		select {
		case c, ok = <-confirms:
		case <-stop:
			// Settle what has already arrived, then leave.
			select {
			case c, ok = <-confirms:
			default:
				return
			}
		}
		if !ok {
			return
		}
		p.mu.Lock()
	drain:
		for {
			select {
			case r, ok := <-returns:
				if !ok {
					// The library closes returns when the connection
					// dies, before confirms already buffered are read:
					// a closed channel is always ready, so without this
					// the loop would spin forever holding p.mu (the
					// producer's silent stall after a broker cut).
					returns = nil
					break drain
				}
				p.returned[r.MessageId] = true
			default:
				break drain
			}
		}
		p.progress.Store(time.Now().UnixNano())
		m := p.pending[c.DeliveryTag]
		delete(p.pending, c.DeliveryTag)
		if m == nil {
			p.mu.Unlock()
			continue
		}
		if c.Ack && !p.returned[m.pub.MessageId] {
			p.mu.Unlock()
			p.cfg.OnConfirm(m.token)
			p.mu.Lock()
			<-p.slots
			p.idle.Broadcast()
			p.mu.Unlock()
			continue
		}
		if p.returned[m.pub.MessageId] {
			delete(p.returned, m.pub.MessageId)
			p.restart = errUnroutable
			p.log.Warn("message unroutable (is a queue bound to the exchange?); will retry", "id", m.pub.MessageId)
		} else if p.restart == nil {
			p.log.Warn("message nacked by the broker; will retry on a new channel", "id", m.pub.MessageId)
			p.restart = errNacked
		}
		p.retry = append(p.retry, m)
		p.mu.Unlock()
		p.cfg.OnRetry(true)
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// requeuePending moves what the dead channel left unconfirmed to the front
// of the retry list, in publishing order.
func (p *Publisher) requeuePending() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return
	}
	left := make([]*outMsg, 0, len(p.pending))
	for _, m := range p.pending {
		left = append(left, m)
	}
	sort.Slice(left, func(i, j int) bool { return left[i].seq < left[j].seq })
	p.retry = append(left, p.retry...)
	clear(p.pending)
	clear(p.returned)
}

// watch closes the socket when confirms stop coming while messages wait
// for them (ConfirmTimeout without progress), and closes dead so the session fails and starts over even if
// the library never reports the loss. stop ends the watch and waits for it.
func (p *Publisher) watch(raw net.Conn) (stop func(), dead <-chan struct{}) {
	quit, done, fired := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			// Every message accepted and not confirmed counts, wherever it
			// waits (sent, to be sent again, or queued behind a session
			// that is still setting up), and the watch takes no lock, so
			// it fires whatever the session is stuck on.
			waiting := len(p.slots)
			idle := time.Since(time.Unix(0, p.progress.Load()))
			if waiting > 0 && !p.blocked.Load() && idle > p.cfg.ConfirmTimeout {
				p.log.Warn("no confirm from RabbitMQ; resetting the connection", "waited", idle.Round(time.Second), "unconfirmed", waiting)
				if raw != nil {
					_ = raw.Close()
				}
				close(fired)
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }, fired
}
