package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"}, true},
		{fmt.Errorf("commit: %w", &mysql.MySQLError{Number: 1213}), true},
		{&mysql.MySQLError{Number: 1047, Message: "WSREP has not yet prepared node for application use"}, true},
		{&mysql.MySQLError{Number: 1205}, true},
		{mysql.ErrInvalidConn, true},
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{&mysql.MySQLError{Number: 1406, Message: "Data too long"}, false},
		{errors.New("something else"), false},
		{nil, false},
	} {
		if got := store.Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A DSN naming several nodes, the first of them down: the store opens,
// migrates and writes through the live one.
func TestFailoverConnector(t *testing.T) {
	env := testenv.Parallel(t)
	cfg, err := mysql.ParseDSN(env.DSN)
	if err != nil {
		t.Fatal(err)
	}
	live := cfg.Addr
	cfg.Addr = deadAddr(t) + "," + live
	if got := store.Addrs(cfg); len(got) != 2 || got[1] != live {
		t.Fatalf("Addrs = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Config{DSN: cfg.FormatDSN(), RawTable: env.RawTable, CleanTable: env.CleanTable})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.WriteRaw(ctx, lines(10, 7)); err != nil {
		t.Fatal(err)
	}
	if raw, _, err := st.Count(ctx); err != nil || raw != 10 {
		t.Fatalf("Count = %d, %v; want 10 rows", raw, err)
	}

	cfg.Addr = deadAddr(t) + "," + deadAddr(t)
	conn, err := store.Connector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("ping through two dead nodes succeeded")
	}
}

// The migration lock is a row: a second taker waits until the first
// releases it, and a holder that died leaves a row that expires.
func TestLockExcludes(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	release, err := store.Lock(ctx, st.DB, "t")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		rel, err := store.Lock(ctx, st.DB, "t")
		if err == nil {
			rel()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second Lock returned while the first held it (err %v)", err)
	case <-time.After(time.Second):
	}
	release()
	if err := <-got; err != nil {
		t.Fatalf("second Lock after release: %v", err)
	}

	// A holder killed mid-migration: its row is past its expiry.
	if _, err := st.DB.ExecContext(ctx, "INSERT INTO datastream_lock (name, owner, expires_at) VALUES ('t', 'dead', UTC_TIMESTAMP(6) - INTERVAL 1 SECOND)"); err != nil {
		t.Fatal(err)
	}
	rel, err := store.Lock(ctx, st.DB, "t")
	if err != nil {
		t.Fatalf("Lock over an expired row: %v", err)
	}
	rel()
	var n int
	if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM datastream_lock").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d lock rows left after release (%v)", n, err)
	}
}
