package store

import (
	"context"
	"fmt"

	"github.com/datastream/datastream/internal/record"
)

var rawCols = []string{"id", "source_id", "file_offset", "received_at", "line"}

// rawRows are lines as rows of raw_log, in the order of rawCols, with the
// ids of their sources.
type rawRows struct {
	lines   []record.Line
	sources []uint32
}

func (r rawRows) len() int { return len(r.lines) }

func (r rawRows) row(w rowWriter, i int) {
	l := &r.lines[i]
	data := l.Data
	if data == nil {
		data = []byte{} // NOT NULL: an empty line is an empty value
	}
	w.bytes(l.ID[:])
	w.uint(uint64(r.sources[i]))
	// uint64: a foreign message's id is made from its content, so this
	// half can have its top bit set (file_offset is BIGINT UNSIGNED).
	w.uint(uint64(l.ID.Offset()))
	w.time(l.ReceivedAt)
	w.bytes(data)
}

// WriteRaw stores lines byte for byte in one transaction. A line already
// stored (same id) is left as it is.
func (s *Store) WriteRaw(ctx context.Context, lines []record.Line) error {
	if len(lines) == 0 {
		return nil
	}
	src, err := s.resolveSources(ctx, len(lines), func(i int) source {
		return sourceOf(lines[i].SourceHost, lines[i].SourcePath, lines[i].SourceInID, lines[i].ID)
	})
	if err == nil {
		err = s.write(ctx, s.rawIns, rawRows{lines, src}, nil, nil)
	}
	if err != nil {
		return fmt.Errorf("write %d rows to %s: %w", len(lines), s.rawName, err)
	}
	return nil
}
