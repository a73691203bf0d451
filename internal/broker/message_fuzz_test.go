package broker

import (
	"bytes"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/record"
)

// FuzzDecode feeds deliveries a foreign or broken publisher could send. A
// delivery either fails (and is dead-lettered) or gives back exactly its
// body as lines, with ids that follow the file's offsets and a received
// time a DATETIME column holds.
func FuzzDecode(f *testing.F) {
	id := record.NewID([8]byte{7}, 100).String()
	f.Add(ContentTypeLine, id, []byte("a line"), "web-1", "/var/log/x", int64(1), true, true, "")
	f.Add(ContentTypeLines, id, []byte("one\ntwo\n\nthree\n"), "", "", int64(-1<<62), true, true, "")
	f.Add(ContentTypeLines, "", []byte("x\n"), "h", "p", int64(0), false, true, "")
	f.Add("", "not-an-id", []byte("\xff\x00"), "", "", int64(1<<62), true, true, "")
	f.Add(ContentTypeLines, id, []byte("one\ntwo\n"), "", "", int64(0), false, false, "1764633081123456")
	f.Add(ContentTypeLine, id, []byte("one"), "", "", int64(0), false, false, "-99999999999999999")
	f.Add(ContentTypeSource, "source-0700000000000000", []byte(`{"file":"0700000000000000","host":"h","path":"p"}`), "", "", int64(0), false, false, "")
	f.Fuzz(func(t *testing.T, contentType, messageID string, body []byte, host, path string, ns int64, withNS, withHeaders bool, typ string) {
		d := &amqp.Delivery{ContentType: contentType, MessageId: messageID, Body: body, Timestamp: time.Unix(ns, 0), Type: typ}
		if withHeaders {
			// The format before issue 15.
			d.Headers = amqp.Table{HeaderSourceHost: host, HeaderSourcePath: path}
			if withNS {
				d.Headers[HeaderReceivedAt] = ns
			}
		} else {
			host, path = "", ""
		}
		if IsSource(d) {
			// An announcement is never lines; decoding it fails or
			// gives a file identity of 8 bytes.
			if lines, err := Decode(nil, d); err == nil || len(lines) != 0 {
				t.Fatal("a source announcement decoded as lines")
			}
			if src, err := DecodeSource(d); err == nil && EncodeSource(src, time.Time{}).MessageId == "" {
				t.Fatal("announcement without an id")
			}
			return
		}
		lines, err := Decode(nil, d)
		if err != nil {
			if len(lines) != 0 {
				t.Fatalf("error %v with %d lines", err, len(lines))
			}
			return
		}
		if len(lines) == 0 {
			t.Fatal("no lines and no error")
		}
		var joined []byte
		for i, l := range lines {
			if y := l.ReceivedAt.Year(); y < 1970 || y > 9999 || l.ReceivedAt.Location() != time.UTC {
				t.Fatalf("received_at %v", l.ReceivedAt)
			}
			if l.SourceHost != host || l.SourcePath != path {
				t.Fatalf("source %q %q, want %q %q", l.SourceHost, l.SourcePath, host, path)
			}
			if i > 0 {
				prev := lines[i-1]
				if l.ID.File() != prev.ID.File() || l.ID.Offset() != prev.ID.Offset()+int64(len(prev.Data))+1 {
					t.Fatalf("line %d id %s does not follow %s (%d bytes)", i, l.ID, prev.ID, len(prev.Data))
				}
			}
			joined = append(joined, l.Data...)
			if contentType == ContentTypeLines {
				joined = append(joined, '\n')
			}
		}
		if !bytes.Equal(joined, body) {
			t.Fatalf("lines %q do not give back the body %q", joined, body)
		}
		if contentType != ContentTypeLines && len(lines) != 1 {
			t.Fatalf("a plain message gave %d lines", len(lines))
		}
		if want, err := record.ParseID(messageID); err == nil && lines[0].ID != want {
			t.Fatalf("first id %s, message_id %s", lines[0].ID, messageID)
		}
		again, _ := Decode(nil, d)
		if again[0].ID != lines[0].ID {
			t.Fatal("the same delivery decoded to another id")
		}
	})
}
