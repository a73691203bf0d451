// Package broker speaks AMQP 0-9-1 to RabbitMQ for Datastream: the topology,
// the wire format of a line, a publisher that never forgets an unconfirmed
// message, and a consumer session that acks only what was stored.
package broker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/record"
)

// Content types of the message kinds. A plain message is one line, as the
// contract says; a packed one carries consecutive lines of one file; a
// source announcement says which host and path a file identity stands for.
const (
	ContentTypeLine   = "text/plain"
	ContentTypeLines  = "application/vnd.datastream.lines.v1"
	ContentTypeSource = "application/vnd.datastream.source.v1"
)

// Header names. Line messages carry none since the source announcement:
// a header table costs RabbitMQ a quarter of its rate (issue 15). The
// source and line-count headers are still read from messages published
// before, which a queue may hold during an upgrade.
const (
	HeaderSourceHost = "x-source-host"
	HeaderSourcePath = "x-source-path"
	HeaderReceivedAt = "x-received-at" // unix nanoseconds: finer than the AMQP timestamp
	HeaderLineCount  = "x-line-count"
	HeaderReason     = "x-datastream-reason"
	HeaderQueue      = "x-datastream-queue"
)

// EncodeLine makes the persistent message of one line: the line is the
// body, its id the message id, and the time it was read is the timestamp
// (seconds, for any reader) and, to the microsecond, the type property.
func EncodeLine(l *record.Line) amqp.Publishing {
	return amqp.Publishing{
		ContentType:  ContentTypeLine,
		DeliveryMode: amqp.Persistent,
		MessageId:    l.ID.String(),
		Timestamp:    l.ReceivedAt,
		Type:         readTime(l.ReceivedAt),
		Body:         l.Data,
	}
}

// readTime is the type property of a line message: the read time in unix
// microseconds, the precision of the tables' received_at.
func readTime(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

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
	pub := EncodeLine(&lines[0])
	pub.ContentType, pub.Body = ContentTypeLines, body
	return pub
}

// LineCount is the number of lines a delivery carries: its newlines, or
// the header of a packed message published before issue 15.
func LineCount(d *amqp.Delivery) int {
	switch d.ContentType {
	case ContentTypeSource:
		return 0
	case ContentTypeLines:
	default:
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
//
// A message of this format names no source: the lines get SourceInID, and
// the source is the one announced for their file (see EncodeSource). A
// message of the format before (headers x-source-host and x-source-path)
// gives its lines the source its headers name.
func Decode(dst []record.Line, d *amqp.Delivery) ([]record.Line, error) {
	if d.ContentType == ContentTypeSource {
		return dst, errors.New("a source announcement carries no lines")
	}
	host, hasHost := d.Headers[HeaderSourceHost].(string)
	path, _ := d.Headers[HeaderSourcePath].(string)
	received := d.Timestamp
	micros, err := strconv.ParseInt(d.Type, 10, 64)
	ours := err == nil && !hasHost
	if ours {
		received = time.UnixMicro(micros)
	} else if ns, ok := d.Headers[HeaderReceivedAt].(int64); ok {
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
		ours = false
	}
	if d.ContentType != ContentTypeLines {
		return append(dst, record.Line{ID: id, SourceHost: host, SourcePath: path, SourceInID: ours, ReceivedAt: received, Data: d.Body}), nil
	}
	body := d.Body
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return dst, fmt.Errorf("packed message %s does not end with a newline", d.MessageId)
	}
	file, off := id.File(), id.Offset()
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		dst = append(dst, record.Line{ID: record.NewID(file, off), SourceHost: host, SourcePath: path, SourceInID: ours, ReceivedAt: received, Data: body[:i:i]})
		off += int64(i) + 1
		body = body[i+1:]
	}
	return dst, nil
}

// sourceBody is the JSON body of a source announcement.
type sourceBody struct {
	File string `json:"file"` // the file identity: 16 hex digits, the first half of its lines' ids
	Host string `json:"host"`
	Path string `json:"path"`
}

// EncodeSource makes the announcement of a file's source. A producer sends
// it before the first line of each file and again after each reconnect;
// consumers store it whenever it comes, before or after the lines.
func EncodeSource(src record.Source, now time.Time) amqp.Publishing {
	file := hex.EncodeToString(src.File[:])
	body, _ := json.Marshal(sourceBody{File: file, Host: src.Host, Path: src.Path}) // strings only: cannot fail
	return amqp.Publishing{
		ContentType:  ContentTypeSource,
		DeliveryMode: amqp.Persistent,
		MessageId:    "source-" + file,
		Timestamp:    now,
		Body:         body,
	}
}

// IsSource reports whether d is a source announcement.
func IsSource(d *amqp.Delivery) bool { return d.ContentType == ContentTypeSource }

// DecodeSource reads a source announcement.
func DecodeSource(d *amqp.Delivery) (record.Source, error) {
	var b sourceBody
	var src record.Source
	if err := json.Unmarshal(d.Body, &b); err != nil {
		return src, fmt.Errorf("source announcement: %w", err)
	}
	if len(b.File) != 16 {
		return src, fmt.Errorf("source announcement: file %q is not 16 hex digits", b.File)
	}
	if _, err := hex.Decode(src.File[:], []byte(b.File)); err != nil {
		return src, fmt.Errorf("source announcement: file %q is not 16 hex digits", b.File)
	}
	src.Host, src.Path = b.Host, b.Path
	return src, nil
}
