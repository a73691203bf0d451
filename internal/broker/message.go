// Package broker speaks AMQP 0-9-1 to RabbitMQ for Datastream: the topology,
// the wire format of a line, a publisher that never forgets an unconfirmed
// message, and a consumer session that acks only what was stored.
package broker

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/record"
)

// Content types of the two message kinds. A plain message is one line, as the
// contract says; a packed one carries consecutive lines of one file.
const (
	ContentTypeLine  = "text/plain"
	ContentTypeLines = "application/vnd.datastream.lines.v1"
)

// Header names.
const (
	HeaderSourceHost = "x-source-host"
	HeaderSourcePath = "x-source-path"
	HeaderReceivedAt = "x-received-at" // unix nanoseconds: finer than the AMQP timestamp
	HeaderLineCount  = "x-line-count"
	HeaderReason     = "x-datastream-reason"
	HeaderQueue      = "x-datastream-queue"
)

// EncodeLine makes the persistent message of one line.
func EncodeLine(l *record.Line) amqp.Publishing {
	return amqp.Publishing{
		ContentType:  ContentTypeLine,
		DeliveryMode: amqp.Persistent,
		MessageId:    l.ID.String(),
		Timestamp:    l.ReceivedAt,
		Headers: amqp.Table{
			HeaderSourceHost: l.SourceHost,
			HeaderSourcePath: l.SourcePath,
			HeaderReceivedAt: l.ReceivedAt.UnixNano(),
		},
		Body: l.Data,
	}
}

// Contiguous reports whether next starts right after prev's newline in the
// same file, the condition for packing them into one message.
func Contiguous(prev, next *record.Line) bool {
	return prev.ID.File() == next.ID.File() && prev.SourcePath == next.SourcePath &&
		next.ID.Offset() == prev.ID.Offset()+int64(len(prev.Data))+1 &&
		bytes.IndexByte(prev.Data, '\n') < 0
}

// EncodeLines packs consecutive lines of one file (see Contiguous) into one
// message. Each line keeps its own id: the consumer derives it from the
// first id and the lengths of the lines before it.
func EncodeLines(lines []record.Line) amqp.Publishing {
	if len(lines) == 1 {
		return EncodeLine(&lines[0])
	}
	n := 0
	for i := range lines {
		n += len(lines[i].Data) + 1
	}
	body := make([]byte, 0, n)
	for i := range lines {
		body = append(body, lines[i].Data...)
		body = append(body, '\n')
	}
	first := &lines[0]
	return amqp.Publishing{
		ContentType:  ContentTypeLines,
		DeliveryMode: amqp.Persistent,
		MessageId:    first.ID.String(),
		Timestamp:    first.ReceivedAt,
		Headers: amqp.Table{
			HeaderSourceHost: first.SourceHost,
			HeaderSourcePath: first.SourcePath,
			HeaderReceivedAt: first.ReceivedAt.UnixNano(),
			HeaderLineCount:  int32(len(lines)),
		},
		Body: body,
	}
}

// LineCount is the number of lines a delivery carries, from its header when
// it has one.
func LineCount(d *amqp.Delivery) int {
	if d.ContentType != ContentTypeLines {
		return 1
	}
	switch v := d.Headers[HeaderLineCount].(type) {
	case int32:
		return int(v)
	case int64:
		return int(v)
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return bytes.Count(d.Body, []byte{'\n'})
}

// Decode turns a delivery back into its lines, appending to dst. A message
// from a foreign publisher without a Datastream id gets an id from its
// content, so re-deliveries of it still collapse into one row.
func Decode(dst []record.Line, d *amqp.Delivery) ([]record.Line, error) {
	host, _ := d.Headers[HeaderSourceHost].(string)
	path, _ := d.Headers[HeaderSourcePath].(string)
	received := d.Timestamp
	if ns, ok := d.Headers[HeaderReceivedAt].(int64); ok {
		received = time.Unix(0, ns)
	}
	received = received.UTC()
	if y := received.Year(); y < 1970 || y > 9999 {
		// Zero, or a foreign publisher's timestamp no DATETIME column
		// can hold: the row would be refused, so the line is dated now.
		received = time.Now().UTC()
	}

	id, err := record.ParseID(d.MessageId)
	if err != nil {
		if d.ContentType == ContentTypeLines {
			return dst, fmt.Errorf("packed message with bad message_id %q: %w", d.MessageId, err)
		}
		sum := sha256.Sum256(d.Body)
		id = record.ID(sum[:16])
	}
	if d.ContentType != ContentTypeLines {
		return append(dst, record.Line{ID: id, SourceHost: host, SourcePath: path, ReceivedAt: received, Data: d.Body}), nil
	}
	body := d.Body
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return dst, fmt.Errorf("packed message %s does not end with a newline", d.MessageId)
	}
	file, off := id.File(), id.Offset()
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		dst = append(dst, record.Line{ID: record.NewID(file, off), SourceHost: host, SourcePath: path, ReceivedAt: received, Data: body[:i:i]})
		off += int64(i) + 1
		body = body[i+1:]
	}
	return dst, nil
}
