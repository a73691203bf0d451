package broker

import (
	"bytes"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/record"
)

func deliveryOf(p amqp.Publishing) *amqp.Delivery {
	return &amqp.Delivery{ContentType: p.ContentType, MessageId: p.MessageId, Timestamp: p.Timestamp, Type: p.Type, Headers: p.Headers, Body: p.Body}
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
				if len(p.Headers) != 0 {
					t.Fatalf("a line's message has headers %v", p.Headers)
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
				// The source is announced apart, the read time kept to
				// the microsecond (received_at's precision).
				if got[i].ID != lines[i].ID || !bytes.Equal(got[i].Data, lines[i].Data) || !got[i].SourceInID ||
					got[i].SourceHost != "" || got[i].SourcePath != "" || !got[i].ReceivedAt.Equal(now.Truncate(time.Microsecond)) {
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

// legacyLines is the format before issue 15: source and read time in a
// header table of every message, a line count in a packed one.
func legacyLines(lines []record.Line) amqp.Publishing {
	first := &lines[0]
	p := amqp.Publishing{
		ContentType: ContentTypeLine, DeliveryMode: amqp.Persistent, MessageId: first.ID.String(), Timestamp: first.ReceivedAt,
		Headers: amqp.Table{HeaderSourceHost: first.SourceHost, HeaderSourcePath: first.SourcePath, HeaderReceivedAt: first.ReceivedAt.UnixNano()},
		Body:    first.Data,
	}
	if len(lines) > 1 {
		p.ContentType, p.Body = ContentTypeLines, nil
		p.Headers[HeaderLineCount] = int32(len(lines))
		for _, l := range lines {
			p.Body = append(append(p.Body, l.Data...), '\n')
		}
	}
	return p
}

// TestDecodeLegacy: messages published before issue 15, which queues may
// hold during an upgrade, still give their lines with the source their
// headers name and the read time to the nanosecond.
func TestDecodeLegacy(t *testing.T) {
	file := [8]byte{1, 2, 3}
	now := time.Date(2026, 11, 27, 6, 0, 0, 123456789, time.UTC)
	lines := []record.Line{
		{ID: record.NewID(file, 0), SourceHost: "web-1", SourcePath: "/var/log/nginx/access.log", ReceivedAt: now, Data: []byte("a")},
		{ID: record.NewID(file, 2), SourceHost: "web-1", SourcePath: "/var/log/nginx/access.log", ReceivedAt: now, Data: []byte("bc")},
	}
	for _, pubs := range [][]amqp.Publishing{{legacyLines(lines[:1]), legacyLines(lines[1:])}, {legacyLines(lines)}} {
		var got []record.Line
		for _, p := range pubs {
			d := deliveryOf(p)
			if n := LineCount(d); n != 2/len(pubs) { // 1 each, or 2 in one
				t.Fatalf("line count %d", n)
			}
			var err error
			if got, err = Decode(got, d); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != 2 {
			t.Fatalf("%d lines", len(got))
		}
		for i, l := range got {
			if l.ID != lines[i].ID || string(l.Data) != string(lines[i].Data) || l.SourceInID ||
				l.SourceHost != "web-1" || l.SourcePath != "/var/log/nginx/access.log" || !l.ReceivedAt.Equal(now) {
				t.Errorf("line %d: got %+v, want %+v", i, l, lines[i])
			}
		}
	}
}

func TestSourceAnnouncement(t *testing.T) {
	src := record.Source{File: [8]byte{0xde, 0xad, 0, 1, 2, 3, 4, 0xff}, Host: "web-1", Path: "/var/log/nginx/\"odd\" \xff.log"}
	p := EncodeSource(src, time.Now())
	d := deliveryOf(p)
	if !IsSource(d) || p.DeliveryMode != amqp.Persistent || len(p.Headers) != 0 || LineCount(d) != 0 {
		t.Fatalf("announcement %+v", p)
	}
	got, err := DecodeSource(d)
	if err != nil {
		t.Fatal(err)
	}
	// JSON keeps valid UTF-8; the invalid byte becomes U+FFFD, as the
	// store would make it anyway.
	if got.File != src.File || got.Host != src.Host || got.Path != "/var/log/nginx/\"odd\" \uFFFD.log" {
		t.Fatalf("got %+v, want %+v", got, src)
	}
	if _, err := Decode(nil, d); err == nil {
		t.Fatal("an announcement decoded as a line")
	}
	for _, body := range []string{``, `{}`, `{"file":"dead"}`, `{"file":"00112233445566778899"}`, `{"file":"zz00000000000000"}`, `[1]`} {
		if _, err := DecodeSource(&amqp.Delivery{ContentType: ContentTypeSource, Body: []byte(body)}); err == nil {
			t.Errorf("announcement %q accepted", body)
		}
	}
}
