package broker

import (
	"bytes"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/record"
)

func deliveryOf(p amqp.Publishing) *amqp.Delivery {
	return &amqp.Delivery{ContentType: p.ContentType, MessageId: p.MessageId, Timestamp: p.Timestamp, Headers: p.Headers, Body: p.Body}
}

func TestEncodeDecode(t *testing.T) {
	file := [8]byte{9, 8, 7, 6, 5, 4, 3, 2}
	now := time.Date(2026, 11, 27, 6, 0, 0, 123456789, time.UTC)
	data := [][]byte{[]byte("first line"), {}, {0xff, 0xfe, '"', '<'}, []byte("last\r")}
	var lines []record.Line
	off := int64(100)
	for _, d := range data {
		lines = append(lines, record.Line{ID: record.NewID(file, off), SourceHost: "h", SourcePath: "/var/log/a.log", ReceivedAt: now, Data: d})
		off += int64(len(d)) + 1
	}
	for i := 1; i < len(lines); i++ {
		if !Contiguous(&lines[i-1], &lines[i]) {
			t.Fatalf("lines %d and %d should be contiguous", i-1, i)
		}
	}
	for _, tc := range []struct {
		name string
		pubs []amqp.Publishing
	}{
		{"one per message", []amqp.Publishing{EncodeLine(&lines[0]), EncodeLine(&lines[1]), EncodeLine(&lines[2]), EncodeLine(&lines[3])}},
		{"packed", []amqp.Publishing{EncodeLines(lines)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []record.Line
			for _, p := range tc.pubs {
				if p.DeliveryMode != amqp.Persistent {
					t.Fatal("message not persistent")
				}
				var err error
				got, err = Decode(got, deliveryOf(p))
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(got) != len(lines) {
				t.Fatalf("got %d lines, want %d", len(got), len(lines))
			}
			for i := range lines {
				if got[i].ID != lines[i].ID || !bytes.Equal(got[i].Data, lines[i].Data) || got[i].SourcePath != "/var/log/a.log" || !got[i].ReceivedAt.Equal(now) {
					t.Errorf("line %d: got %+v, want %+v", i, got[i], lines[i])
				}
			}
		})
	}
}

func TestDecodeForeignMessage(t *testing.T) {
	a, err := Decode(nil, &amqp.Delivery{Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Decode(nil, &amqp.Delivery{Body: []byte("x")})
	if a[0].ID != b[0].ID {
		t.Fatal("foreign messages with equal bodies must get equal ids")
	}
	if _, err := Decode(nil, &amqp.Delivery{ContentType: ContentTypeLines, MessageId: "bad", Body: []byte("x\n")}); err == nil {
		t.Fatal("packed message with a bad id accepted")
	}
	// A timestamp no DATETIME can hold is replaced by the time of decoding.
	for _, ts := range []time.Time{{}, time.Unix(1<<40, 0), time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		before := time.Now()
		l, err := Decode(nil, &amqp.Delivery{Body: []byte("x"), Timestamp: ts})
		if err != nil {
			t.Fatal(err)
		}
		if got := l[0].ReceivedAt; got.Before(before.Add(-time.Second)) || got.After(time.Now()) {
			t.Fatalf("timestamp %v: received_at %v, want now", ts, got)
		}
	}
	ok := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	if l, _ := Decode(nil, &amqp.Delivery{Body: []byte("x"), Timestamp: ok}); !l[0].ReceivedAt.Equal(ok) {
		t.Fatalf("a valid timestamp was replaced: %v", l[0].ReceivedAt)
	}
}
