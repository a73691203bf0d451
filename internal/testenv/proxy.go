package testenv

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// CutMode is how a cut Proxy treats connections that arrive while it is cut.
type CutMode int

const (
	// Refuse accepts and resets new connections at once: the client sees
	// "connection reset", as from a server that is down.
	Refuse CutMode = iota
	// Blackhole accepts new connections and never answers, like a network
	// partition; they are reset when the proxy is restored.
	Blackhole
)

// Proxy is a TCP proxy for injecting outages between a process and a shared
// server (RabbitMQ, MariaDB) without touching the server: Cut drops every
// connection through it and keeps new ones from getting through until
// Restore.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	cut     bool
	mode    CutMode
	conns   map[net.Conn]struct{} // both ends of every forwarded connection
	held    map[net.Conn]struct{} // blackholed while cut
	closed  bool
	wg      sync.WaitGroup
	accepts int
}

// NewProxy listens on 127.0.0.1:0 and forwards to target (host:port). It is
// closed when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := StartProxy(target)
	if err != nil {
		t.Fatalf("proxy to %s: %v", target, err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartProxy is NewProxy for callers without a testing.TB; Close it.
func StartProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted is the number of connections accepted so far (cut or not).
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

// Active is the number of connections being forwarded now.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Cut resets every forwarded connection and, until Restore, treats new
// connections as mode says.
func (p *Proxy) Cut(mode CutMode) {
	p.mu.Lock()
	p.cut, p.mode = true, mode
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		reset(c)
	}
}

// Restore lets connections through again; connections blackholed during
// the cut are reset so their clients retry.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	held := p.held
	p.held = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range held {
		reset(c)
	}
}

// Close stops listening and resets every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut(Refuse)
	p.Restore()
	p.wg.Wait()
}

// reset closes c with a TCP RST, so the peer notices at once.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.mu.Lock()
		p.accepts++
		cut, mode, closed := p.cut, p.mode, p.closed
		if cut && mode == Blackhole && !closed {
			p.held[c] = struct{}{}
		}
		p.mu.Unlock()
		switch {
		case closed || (cut && mode == Refuse):
			reset(c)
		case cut:
			// Held until Restore: read nothing, answer nothing.
		default:
			p.wg.Add(1)
			go p.forward(c)
		}
	}
}

func (p *Proxy) forward(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		reset(client)
		return
	}
	p.mu.Lock()
	if p.cut || p.closed {
		p.mu.Unlock()
		reset(client)
		reset(server)
		return
	}
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	// One side ended (or Cut reset them): end both, which ends the other copy.
	p.mu.Lock()
	_, live := p.conns[client]
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
	if live {
		_ = client.Close()
		_ = server.Close()
	}
	<-done
}

// AMQPURLVia is the test broker's URL with its host:port replaced by addr.
func (e *Env) AMQPURLVia(addr string) string {
	u, err := url.Parse(e.AMQPURL)
	if err != nil {
		return e.AMQPURL
	}
	u.Host = addr
	return u.String()
}

// AMQPAddr is the host:port of the test broker.
func (e *Env) AMQPAddr() string {
	u, err := url.Parse(e.AMQPURL)
	if err != nil || u.Host == "" {
		return "127.0.0.1:5672"
	}
	if u.Port() == "" {
		if u.Scheme == "amqps" {
			return u.Host + ":5671"
		}
		return u.Host + ":5672"
	}
	return u.Host
}

// MySQLAddr is the host:port of the test database server.
func (e *Env) MySQLAddr() string {
	cfg, err := mysql.ParseDSN(e.DSN)
	if err != nil || cfg.Net != "tcp" {
		return "127.0.0.1:3306"
	}
	if !strings.Contains(cfg.Addr, ":") {
		return cfg.Addr + ":3306"
	}
	return cfg.Addr
}

// DSNVia is the test DSN pointing at addr instead of the server.
func (e *Env) DSNVia(addr string) string {
	cfg, err := mysql.ParseDSN(e.DSN)
	if err != nil {
		return e.DSN
	}
	cfg.Net, cfg.Addr = "tcp", addr
	return cfg.FormatDSN()
}

// ArgsVia is Args with the broker and database reached through the given
// addresses ("" keeps the direct one), e.g. those of two Proxies.
func (e *Env) ArgsVia(amqpAddr, mysqlAddr string) []string {
	args := e.Args()
	for i := 0; i+1 < len(args); i++ {
		switch {
		case args[i] == "--amqp-url" && amqpAddr != "":
			args[i+1] = e.AMQPURLVia(amqpAddr)
		case args[i] == "--mysql-dsn" && mysqlAddr != "":
			args[i+1] = e.DSNVia(mysqlAddr)
		}
	}
	return args
}
