// Package record holds the unit that flows through Datastream: one log line
// with the identity that makes every write of it idempotent.
package record

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// ID identifies a line forever: 8 bytes of file identity, then the line's
// byte offset in that file, big-endian so ids of one file sort by position.
type ID [16]byte

// NewID builds the id of the line at offset in the file identified by file.
func NewID(file [8]byte, offset int64) ID {
	var id ID
	copy(id[:8], file[:])
	binary.BigEndian.PutUint64(id[8:], uint64(offset))
	return id
}

// File returns the file-identity half of the id.
func (id ID) File() [8]byte { return [8]byte(id[:8]) }

// Offset returns the byte offset half of the id.
func (id ID) Offset() int64 { return int64(binary.BigEndian.Uint64(id[8:])) }

// String is the id in hex, as used for AMQP message_id.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an id written by String.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 32 {
		return id, errors.New("record id must be 32 hex digits")
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// Line is one line of a log with where it came from.
type Line struct {
	ID         ID
	SourceHost string // host the producer ran on
	SourcePath string // path of the file when the line was read
	// SourceInID: the message did not name the source; it is the file of
	// ID, whose host and path the producer announces once (see Source).
	// SourceHost and SourcePath are then empty.
	SourceInID bool
	ReceivedAt time.Time // when the producer read the line
	Data       []byte    // the line's exact bytes, without the newline
}

// Source is what a producer announces about a file once, instead of
// repeating it with every line: the host it runs on and the file's path.
type Source struct {
	File [8]byte
	Host string
	Path string
}
