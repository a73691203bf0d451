package testenv

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends one line and reads the answer within d.
func roundTrip(c net.Conn, msg string, d time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

func dialEcho(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxyCutRefuseRestore(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	c := dialEcho(t, p.Addr())
	if got, err := roundTrip(c, "hello", 2*time.Second); err != nil || got != "hello" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	if p.Active() != 1 {
		t.Fatalf("active connections = %d, want 1", p.Active())
	}

	p.Cut(Refuse)
	if _, err := roundTrip(c, "after cut", 2*time.Second); err == nil {
		t.Fatal("an existing connection still works after Cut")
	} else if isTimeout(err) {
		t.Fatalf("existing connection hangs after Cut instead of failing: %v", err)
	}
	// The listener stays: the connection is reset, during the dial or after.
	if c2, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second); err == nil {
		defer c2.Close()
		if _, err := roundTrip(c2, "while cut", 2*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("new connection while cut (Refuse) = %v, want reset", err)
		}
	} else if isTimeout(err) {
		t.Fatalf("dial while cut (Refuse) timed out: %v", err)
	}

	p.Restore()
	c3 := dialEcho(t, p.Addr())
	if got, err := roundTrip(c3, "back", 2*time.Second); err != nil || got != "back" {
		t.Fatalf("after Restore: %q, %v", got, err)
	}
}

func TestProxyBlackhole(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	p.Cut(Blackhole)
	c := dialEcho(t, p.Addr())
	_, err := roundTrip(c, "into the void", 300*time.Millisecond)
	if !isTimeout(err) {
		t.Fatalf("blackholed connection: %v, want a timeout", err)
	}
	p.Restore()
	// The held connection is reset on Restore, so its client retries.
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("held connection after Restore: %v, want reset", err)
	}
	c2 := dialEcho(t, p.Addr())
	if got, err := roundTrip(c2, "ok", 2*time.Second); err != nil || got != "ok" {
		t.Fatalf("after Restore: %q, %v", got, err)
	}
}

func TestProxyClose(t *testing.T) {
	p, err := StartProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dialEcho(t, p.Addr())
	if _, err := roundTrip(c, "x", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close() // idempotent
	if _, err := roundTrip(c, "y", 2*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("connection after Close: %v, want reset", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("proxy still listening after Close")
	}
}

func TestEnvAddrsVia(t *testing.T) {
	e := &Env{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", DSN: "root@tcp(127.0.0.1:3306)/dstest_x"}
	if got := e.AMQPURLVia("127.0.0.1:1"); got != "amqp://guest:guest@127.0.0.1:1/" {
		t.Errorf("AMQPURLVia = %q", got)
	}
	if got := e.DSNVia("127.0.0.1:2"); !strings.Contains(got, "tcp(127.0.0.1:2)/dstest_x") {
		t.Errorf("DSNVia = %q", got)
	}
	if e.AMQPAddr() != "127.0.0.1:5672" || e.MySQLAddr() != "127.0.0.1:3306" {
		t.Errorf("addrs = %q %q", e.AMQPAddr(), e.MySQLAddr())
	}
	args := strings.Join(e.ArgsVia("127.0.0.1:1", ""), " ")
	if !strings.Contains(args, "--amqp-url amqp://guest:guest@127.0.0.1:1/") || !strings.Contains(args, "--mysql-dsn root@tcp(127.0.0.1:3306)/dstest_x") {
		t.Errorf("ArgsVia = %s", args)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
