package logformat

import (
	"fmt"
	"strconv"
)

// ParseError says where a line stopped fitting its format.
type ParseError struct {
	Field  string // "$status", `literal " ["`, or "end of line"
	Pos    int    // byte offset in the line (after a trailing "\r\n" was dropped)
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s at byte %d: %s", e.Field, e.Pos, e.Reason)
}

// maxSample bounds how much of a line an error message quotes.
const maxSample = 40

// quoteSample quotes the start of b for an error message.
func quoteSample(b []byte) string {
	if len(b) > maxSample {
		return strconv.Quote(string(b[:maxSample])) + "..."
	}
	return strconv.Quote(string(b))
}

func valueError(s *segment, v []byte, pos int, want string) error {
	return &ParseError{Field: "$" + s.name, Pos: pos, Reason: want + ", got " + quoteSample(v)}
}

func litError(line, lit []byte, pos int) error {
	got := line[pos:]
	if len(got) > len(lit) {
		got = got[:len(lit)]
	}
	return &ParseError{
		Field:  "literal " + strconv.Quote(string(lit)),
		Pos:    pos,
		Reason: "line has " + quoteSample(got),
	}
}
