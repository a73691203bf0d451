package store

import (
	"context"
	"fmt"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
)

var rawCols = []string{"id", "source_host", "source_path", "file_offset", "received_at", "line"}

// rawRows are lines as rows of raw_log, in the order of rawCols.
type rawRows []record.Line

func (r rawRows) len() int { return len(r) }

func (r rawRows) row(w rowWriter, i int) {
	l := &r[i]
	data := l.Data
	if data == nil {
		data = []byte{} // NOT NULL: an empty line is an empty value
	}
	w.bytes(l.ID[:])
	w.text(clean.TextString(l.SourceHost, 255))
	w.text(clean.TextString(l.SourcePath, 1024))
	w.int(l.ID.Offset())
	w.time(l.ReceivedAt)
	w.bytes(data)
}

// WriteRaw stores lines byte for byte in one transaction. A line already
// stored (same id) is left as it is.
func (s *Store) WriteRaw(ctx context.Context, lines []record.Line) error {
	if len(lines) == 0 {
		return nil
	}
	if err := s.write(ctx, s.rawIns, rawRows(lines)); err != nil {
		return fmt.Errorf("write %d rows to %s: %w", len(lines), s.rawName, err)
	}
	return nil
}
