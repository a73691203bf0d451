package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// Several nodes of a Galera cluster are named in one DSN, the way the
// driver names one: tcp(host1:3306,host2:3306,host3:3306). Every node
// takes writes, so a new connection goes to the node that answered last and
// moves on to the next when that one refuses, has left the cluster, or is
// still joining it; connections of the pool that die with their node are
// dropped by database/sql and replaced through the same connector.

// Addrs returns the addresses of cfg: one, or the nodes of a cluster.
func Addrs(cfg *mysql.Config) []string {
	list := cfg.Addr
	// The driver's parser sees one host in a list and gives it its default
	// port: [a:1,b:2]:3306.
	if strings.Contains(list, ",") && strings.HasPrefix(list, "[") && strings.HasSuffix(list, "]:3306") {
		list = list[1 : len(list)-len("]:3306")]
	}
	var out []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Connector returns a connector for cfg that fails over among its nodes
// when it names several.
func Connector(cfg *mysql.Config) (driver.Connector, error) {
	addrs := Addrs(cfg)
	if len(addrs) <= 1 {
		return mysql.NewConnector(cfg)
	}
	f := &failover{}
	for _, a := range addrs {
		c := cfg.Clone()
		c.Addr = a
		conn, err := mysql.NewConnector(c)
		if err != nil {
			return nil, fmt.Errorf("mysql connector for %s: %w", a, err)
		}
		f.nodes = append(f.nodes, conn)
		f.addrs = append(f.addrs, a)
	}
	return f, nil
}

type failover struct {
	nodes []driver.Connector
	addrs []string
	next  atomic.Int32 // the node to try first
}

var _ driver.Connector = (*failover)(nil)

func (f *failover) Driver() driver.Driver { return mysql.MySQLDriver{} }

// Connect returns a connection to the first node, from the one that worked
// last, that accepts it and is a synced member of the primary component.
func (f *failover) Connect(ctx context.Context) (driver.Conn, error) {
	start := int(f.next.Load())
	var errs []error
	for i := range f.nodes {
		n := (start + i) % len(f.nodes)
		conn, err := f.nodes[n].Connect(ctx)
		if err == nil {
			err = ready(ctx, conn)
			if err != nil {
				conn.Close()
			}
		}
		if err == nil {
			f.next.Store(int32(n))
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", f.addrs[n], err))
	}
	return nil, fmt.Errorf("no MySQL node answered: %w", errors.Join(errs...))
}

// errNotReady says a Galera node is up but cannot take queries yet (it is
// joining, or cut off from the majority).
var errNotReady = errors.New("galera node not ready (wsrep_ready is not ON)")

// ready checks that a node with Galera on (wsrep_on) is ready to take
// queries (wsrep_ready); a server without Galera is ready.
func ready(ctx context.Context, conn driver.Conn) error {
	on, err := showValue(ctx, conn, "SHOW VARIABLES LIKE 'wsrep_on'")
	if err != nil || on != "ON" {
		return err
	}
	r, err := showValue(ctx, conn, "SHOW STATUS LIKE 'wsrep_ready'")
	if err == nil && r != "ON" {
		err = errNotReady
	}
	return err
}

// showValue runs a SHOW ... LIKE and returns the value of its row, "" when
// there is none.
func showValue(ctx context.Context, conn driver.Conn, query string) (string, error) {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return "", nil
	}
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	v := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(v); errors.Is(err, io.EOF) || len(v) != 2 {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s", v[1]), nil
}

// Retryable reports whether a write failed in a way that the same
// transaction, run again, can get past: a deadlock or a Galera
// certification conflict (1213), a lock wait timeout, a node that left the
// cluster or is not ready (1047), or a connection that died with its node.
// Writes are idempotent, so running one again never makes a second row,
// even when the failed commit did in fact land.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if connDied(err) {
		return true
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1213, // deadlock, and Galera's certification failure
		1205, // lock wait timeout
		1047, // WSREP has not yet prepared node for application use
		1180, // got error during COMMIT
		1927: // connection was killed (node shutting down)
		return true
	}
	return false
}

func connDied(err error) bool {
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn)
}

// ConnectionLost reports whether a store error was the connection failing
// (rather than the statement): the driver's dead-connection errors or a
// network error.
func ConnectionLost(err error) bool {
	var ne net.Error
	return connDied(err) || errors.As(err, &ne)
}
