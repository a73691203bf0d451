// Package testenv gives integration tests their own corner of the real
// RabbitMQ and MariaDB on this machine: unique exchange, queue, database
// names, removed when the test ends, so tests run in parallel.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
)

// AMQPURL is the broker tests use: $TEST_AMQP_URL or the local default.
func AMQPURL() string {
	if u := os.Getenv("TEST_AMQP_URL"); u != "" {
		return u
	}
	return config.DefaultAMQPURL
}

// MySQLServerDSN is the server tests use, without a database name:
// $TEST_MYSQL_DSN or root on 127.0.0.1.
func MySQLServerDSN() string {
	if d := os.Getenv("TEST_MYSQL_DSN"); d != "" {
		return d
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// Env is one test's names.
type Env struct {
	Name       string // unique suffix
	AMQPURL    string
	DSN        string // with the test's own database
	Database   string
	Exchange   string
	LakeQueue  string
	CleanQueue string
	RawTable   string
	CleanTable string
}

// Parallel is how an integration test starts: skipped under -short, run
// in parallel with the others, with its own names (see New).
func Parallel(t *testing.T) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	t.Parallel()
	return New(t)
}

// New reserves unique names for t and removes the queues, exchanges and
// database when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(fmt.Sprintf("%s_%s", sanitize(t.Name()), hex.EncodeToString(b[:])))
	cfg, err := mysql.ParseDSN(MySQLServerDSN())
	if err != nil {
		t.Fatalf("TEST_MYSQL_DSN: %v", err)
	}
	cfg.DBName = "dstest_" + name
	if len(cfg.DBName) > 64 {
		cfg.DBName = cfg.DBName[:55] + "_" + hex.EncodeToString(b[:])
	}
	e := &Env{
		Name:       name,
		AMQPURL:    AMQPURL(),
		DSN:        cfg.FormatDSN(),
		Database:   cfg.DBName,
		Exchange:   "test." + name,
		LakeQueue:  "test." + name + ".lake",
		CleanQueue: "test." + name + ".clean",
		RawTable:   "raw_log",
		CleanTable: "clean_log",
	}
	t.Cleanup(func() { e.cleanup(t) })
	return e
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 30 {
		out = out[len(out)-30:]
	}
	return out
}

// Topology is the test's exchange and queues.
func (e *Env) Topology(queueType string) broker.Topology {
	if queueType == "" {
		queueType = "classic"
	}
	return broker.Topology{Exchange: e.Exchange, RoutingKey: "logs", Queues: []string{e.LakeQueue, e.CleanQueue}, QueueType: queueType}
}

// Dialer dials the test broker.
func (e *Env) Dialer() broker.Dialer {
	return broker.Dialer{URL: e.AMQPURL, Name: "datastream test " + e.Name}
}

// Args are the command-line flags that point a datastream process at the
// test's names.
func (e *Env) Args() []string {
	return []string{
		"--amqp-url", e.AMQPURL, "--mysql-dsn", e.DSN,
		"--exchange", e.Exchange, "--lake-queue", e.LakeQueue, "--clean-queue", e.CleanQueue,
		"--raw-table", e.RawTable, "--clean-table", e.CleanTable,
	}
}

// Store opens the test's database (creating it and the schema).
func (e *Env) Store(t testing.TB) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{DSN: e.DSN, RawTable: e.RawTable, CleanTable: e.CleanTable})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Channel opens an AMQP channel on its own connection; close ends both.
func (e *Env) Channel(t testing.TB) (ch *amqp.Channel, close func()) {
	t.Helper()
	conn, ch, err := e.Dialer().Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch, func() { conn.Close() }
}

// QueueDepth returns the number of ready messages in a queue.
func (e *Env) QueueDepth(t testing.TB, queue string) int {
	t.Helper()
	ch, done := e.Channel(t)
	defer done()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect queue %s: %v", queue, err)
	}
	return q.Messages
}

func (e *Env) cleanup(t testing.TB) {
	if os.Getenv("TEST_KEEP") != "" {
		t.Logf("TEST_KEEP set: leaving database %s and exchange %s", e.Database, e.Exchange)
		return
	}
	if conn, err := e.Dialer().Dial(); err == nil {
		if ch, err := conn.Channel(); err == nil {
			for _, q := range []string{e.LakeQueue, e.CleanQueue, broker.DeadLetterQueue(e.LakeQueue), broker.DeadLetterQueue(e.CleanQueue)} {
				if _, err := ch.QueueDelete(q, false, false, false); err != nil {
					ch, _ = conn.Channel()
				}
			}
			for _, x := range []string{e.Exchange, e.Exchange + ".dlx"} {
				if ch != nil {
					if err := ch.ExchangeDelete(x, false, false); err != nil {
						ch, _ = conn.Channel()
					}
				}
			}
		}
		conn.Close()
	} else {
		t.Logf("cleanup: %v", err)
	}
	cfg, err := mysql.ParseDSN(MySQLServerDSN())
	if err != nil {
		return
	}
	cfg.DBName = ""
	conn, err := store.Connector(cfg) // one server, or the nodes of a cluster
	if err != nil {
		return
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if _, err := db.Exec("DROP DATABASE IF EXISTS " + store.QuoteIdent(e.Database)); err != nil {
		t.Logf("cleanup: drop database %s: %v", e.Database, err)
	}
}

// VisitIDs reads clean_log's visit ids by line offset (hex, or "NULL"):
// the visits tests compare them between runs.
func VisitIDs(t testing.TB, db *sql.DB) map[int64]string {
	t.Helper()
	rows, err := db.Query("SELECT id, COALESCE(HEX(visit_id), 'NULL') FROM clean_log")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id []byte
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[record.ID(id).Offset()] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
