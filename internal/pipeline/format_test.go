package pipeline_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// TestConsumersReadBothFormats: queues hold messages of the format before
// issue 15 (source in headers) beside new ones (source announced once,
// here after its lines) while two lake consumers and a clean consumer
// compete for them. Every line is stored once in each table, joined to the
// source its producer gave it.
func TestConsumersReadBothFormats(t *testing.T) {
	env := testenv.Parallel(t)
	topo := env.Topology("classic")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	line := func(i int) []byte {
		return fmt.Appendf(nil, `192.0.2.%d - - [27/Nov/2026:10:00:00 +0000] "GET /p/%d HTTP/1.1" 200 %d "-" "test"`, i%250, i, i)
	}
	oldFile, newFile := [8]byte{0xa1}, [8]byte{0xb2}
	var pubs []amqp.Publishing
	want := map[record.ID]string{}
	now := time.Now().UTC()
	// The format before: headers on every message, packs of 10.
	off := int64(0)
	for m := range 30 {
		p := amqp.Publishing{ContentType: broker.ContentTypeLines, DeliveryMode: amqp.Persistent, MessageId: record.NewID(oldFile, off).String(),
			Timestamp: now, Headers: amqp.Table{broker.HeaderSourceHost: "old-host", broker.HeaderSourcePath: "/var/log/old.log",
				broker.HeaderReceivedAt: now.UnixNano(), broker.HeaderLineCount: int32(10)}}
		for i := range 10 {
			l := line(m*10 + i)
			want[record.NewID(oldFile, off)] = "old-host|/var/log/old.log"
			p.Body = append(append(p.Body, l...), '\n')
			off += int64(len(l)) + 1
		}
		pubs = append(pubs, p)
	}
	// The new format: single lines and packs, the announcement last.
	var ls []record.Line
	off = 0
	for i := range 300 {
		l := record.Line{ID: record.NewID(newFile, off), ReceivedAt: now, Data: line(i)}
		ls = append(ls, l)
		want[l.ID] = "web-1|/var/log/nginx/access.log"
		off += int64(len(l.Data)) + 1
	}
	for i := 0; i < len(ls); i += 7 {
		if i%2 == 0 {
			pubs = append(pubs, broker.EncodeLine(&ls[i]), broker.EncodeLines(ls[i+1:min(i+7, len(ls))]))
		} else {
			pubs = append(pubs, broker.EncodeLines(ls[i:min(i+7, len(ls))]))
		}
	}
	pubs = append(pubs, broker.EncodeSource(record.Source{File: newFile, Host: "web-1", Path: "/var/log/nginx/access.log"}, now))

	pub := broker.NewPublisher(broker.PublisherConfig{Dialer: env.Dialer(), Topology: topo})
	for i, p := range pubs {
		if err := pub.Publish(ctx, p, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}

	parser, _, err := logformat.Resolve("combined")
	if err != nil {
		t.Fatal(err)
	}
	var lake, clean atomic.Int64
	count := func(n *atomic.Int64) pipeline.Observer {
		return func(stored, rejected []record.ID) { n.Add(int64(len(stored) + len(rejected))) }
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 3)
	consume := func(queue string, h broker.Handler) {
		go func() {
			done <- broker.Consume(cctx, broker.ConsumerConfig{Dialer: env.Dialer(), Topology: topo, Queue: queue, Prefetch: 20, BatchSize: 5}, h)
		}()
	}
	stores := []*store.Store{env.Store(t), env.Store(t), env.Store(t)}
	consume(env.LakeQueue, &pipeline.Lake{Store: stores[0], Observe: count(&lake)})
	consume(env.LakeQueue, &pipeline.Lake{Store: stores[1], Observe: count(&lake)})
	consume(env.CleanQueue, &pipeline.Clean{Store: stores[2], Parser: parser, FormatName: func() string { return "combined" }, Observe: count(&clean)})
	deadline := time.Now().Add(time.Minute)
	for (lake.Load() < int64(len(want)) || clean.Load() < int64(len(want))) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// The announcement carries no line, so wait for what it writes. An
	// empty queue would not do: a passive declare does not count messages
	// delivered and not yet acked.
	for time.Now().Before(deadline) {
		var n int
		if err := stores[0].DB.QueryRow("SELECT COUNT(*) FROM log_source WHERE host = 'web-1'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if lake.Load() < int64(len(want)) || clean.Load() < int64(len(want)) {
		t.Fatalf("lake handled %d lines, clean %d, want %d each", lake.Load(), clean.Load(), len(want))
	}
	for _, table := range []string{env.RawTable, env.CleanTable} {
		rows, err := stores[0].DB.Query("SELECT t.id, s.host, s.path FROM " + store.QuoteIdent(table) + " t JOIN log_source s ON s.id = t.source_id")
		if err != nil {
			t.Fatal(err)
		}
		got := map[record.ID]string{}
		for rows.Next() {
			var id []byte
			var host, path string
			if err := rows.Scan(&id, &host, &path); err != nil {
				t.Fatal(err)
			}
			got[record.ID(id)] = host + "|" + path
		}
		rows.Close()
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", table, len(got), len(want))
		}
		for id, w := range want {
			if got[id] != w {
				t.Fatalf("%s: row %s has source %q, want %q", table, id, got[id], w)
			}
		}
	}
}
