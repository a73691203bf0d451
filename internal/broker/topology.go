package broker

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Topology is the exchange and queues Datastream needs. Every component
// declares it on connect (declarations are idempotent), so any of them can
// start first and a broker that lost its definitions gets them back.
type Topology struct {
	Exchange   string   // topic exchange, durable
	RoutingKey string   // binding key of every queue
	Queues     []string // durable queues bound to Exchange
	QueueType  string   // "classic" or "quorum"
}

// DeadLetterExchange is where rejected messages go: a direct exchange whose
// routing key is the name of the queue the message was rejected from.
func (t Topology) DeadLetterExchange() string { return t.Exchange + ".dlx" }

// DeadLetterQueue names the queue that keeps what was rejected from q.
func DeadLetterQueue(q string) string { return q + ".dlq" }

func (t Topology) queueArgs(q string) amqp.Table {
	args := amqp.Table{
		"x-dead-letter-exchange":    t.DeadLetterExchange(),
		"x-dead-letter-routing-key": q,
	}
	if t.QueueType == "quorum" {
		args["x-queue-type"] = "quorum"
	} else {
		args["x-queue-type"] = "classic"
	}
	return args
}

// Declare creates the exchanges, queues and bindings if they are missing.
func (t Topology) Declare(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(t.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", t.Exchange, err)
	}
	dlx := t.DeadLetterExchange()
	if err := ch.ExchangeDeclare(dlx, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", dlx, err)
	}
	for _, q := range t.Queues {
		dlq := DeadLetterQueue(q)
		dlqArgs := amqp.Table{"x-queue-type": t.queueArgs(q)["x-queue-type"]}
		if _, err := ch.QueueDeclare(dlq, true, false, false, false, dlqArgs); err != nil {
			return fmt.Errorf("declare queue %q: %w", dlq, err)
		}
		if err := ch.QueueBind(dlq, q, dlx, false, nil); err != nil {
			return fmt.Errorf("bind %q to %q: %w", dlq, dlx, err)
		}
		if _, err := ch.QueueDeclare(q, true, false, false, false, t.queueArgs(q)); err != nil {
			return fmt.Errorf("declare queue %q (if it exists with other arguments, delete it or use its type with --queue-type): %w", q, err)
		}
		if err := ch.QueueBind(q, t.RoutingKey, t.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind %q to %q: %w", q, t.Exchange, err)
		}
	}
	return nil
}

// DeclareWith declares t on a connection of its own from d, closed after:
// for set-up before any component's session exists.
func (t Topology) DeclareWith(d Dialer) error {
	conn, ch, err := d.Channel()
	if err != nil {
		return err
	}
	defer conn.Close()
	return t.Declare(ch)
}

// Delete removes the topology; tests and benchmarks clean up with it.
func (t Topology) Delete(ch *amqp.Channel) error {
	for _, q := range t.Queues {
		for _, name := range []string{q, DeadLetterQueue(q)} {
			if _, err := ch.QueueDelete(name, false, false, false); err != nil {
				return fmt.Errorf("delete queue %q: %w", name, err)
			}
		}
	}
	for _, x := range []string{t.Exchange, t.DeadLetterExchange()} {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			return fmt.Errorf("delete exchange %q: %w", x, err)
		}
	}
	return nil
}

// Dialer opens connections to a broker, or to any node of a cluster.
type Dialer struct {
	// URL is one AMQP URL, or several separated by commas: the nodes of
	// one cluster, tried in turn (a comma inside a password is written
	// %2C).
	URL  string
	TLS  *tls.Config // nil: from the URL scheme
	Name string      // connection name shown in the management UI
	// OnDial, if set, hears every Dial (metrics count reconnects with it);
	// trying the nodes of a cluster in turn is one.
	OnDial func()
	// Timeout bounds connecting to one node (0: 30 s for one URL, 10 s
	// each for several); Heartbeat is the AMQP heartbeat (0: 10 s).
	Timeout, Heartbeat time.Duration
}

// SplitURLs returns the URLs of a comma-separated list, without blanks.
func SplitURLs(list string) []string {
	var out []string
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Dial opens one connection.
func (d Dialer) Dial() (*amqp.Connection, error) {
	conn, _, err := d.dial()
	return conn, err
}

// Channel opens a connection and a channel on it; the caller closes the
// connection.
func (d Dialer) Channel() (*amqp.Connection, *amqp.Channel, error) {
	conn, err := d.Dial()
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("open channel: %w", err)
	}
	return conn, ch, nil
}

// DialSocket is Dial that also returns the connection's socket, which a
// watchdog can close to unblock whatever waits on a connection that stopped
// moving.
func (d Dialer) DialSocket() (*amqp.Connection, net.Conn, error) { return d.dial() }

// dial opens one connection and also returns its socket.
// With several URLs it starts at a random node, so clients spread over the
// cluster, and goes on to the next until one answers: a node that is down
// refuses at once, and one that does not answer costs the dial timeout.
func (d Dialer) dial() (*amqp.Connection, net.Conn, error) {
	if d.OnDial != nil {
		d.OnDial()
	}
	urls := SplitURLs(d.URL)
	timeout := cmp.Or(d.Timeout, 30*time.Second)
	switch len(urls) {
	case 0:
		return d.dialOne(d.URL, timeout) // its error names the URL
	case 1:
		return d.dialOne(urls[0], timeout)
	}
	timeout = cmp.Or(d.Timeout, 10*time.Second)
	first := rand.IntN(len(urls))
	var errs []error
	for i := range urls {
		conn, raw, err := d.dialOne(urls[(first+i)%len(urls)], timeout)
		if err == nil {
			return conn, raw, nil
		}
		errs = append(errs, err)
	}
	return nil, nil, errors.Join(errs...)
}

func (d Dialer) dialOne(url string, timeout time.Duration) (*amqp.Connection, net.Conn, error) {
	var raw net.Conn
	tcp := amqp.DefaultDial(timeout)
	cfg := amqp.Config{
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := tcp(network, addr)
			raw = c
			return c, err
		},
		Heartbeat:       cmp.Or(d.Heartbeat, 10*time.Second),
		TLSClientConfig: d.TLS,
		Properties:      amqp.NewConnectionProperties(),
	}
	if d.Name != "" {
		cfg.Properties.SetClientConnectionName(d.Name)
	}
	conn, err := amqp.DialConfig(url, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to RabbitMQ at %s: %w", hostOf(url), err)
	}
	return conn, raw, nil
}

// hostOf is the host:port of an AMQP URL, for errors that must not show
// the password.
func hostOf(url string) string {
	u, err := amqp.ParseURI(url)
	if err != nil {
		return "a malformed URL"
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}

// Backoff yields growing, jittered delays for reconnect loops so that many
// clients of a restarted broker do not come back in lockstep.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	if b.Min == 0 {
		b.Min = 100 * time.Millisecond
	}
	if b.Max == 0 {
		b.Max = 5 * time.Second
	}
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(b.cur*2, b.Max)
	}
	jitter := time.Duration(rand.Int64N(int64(b.cur)/2 + 1))
	return b.cur/2 + jitter + b.cur/4
}

// Reset starts over after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// Sleep waits d or until ctx is done; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
