package store

import (
	"context"
	"fmt"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
)

var rawCols = []string{"id", "source_host", "source_path", "file_offset", "received_at", "line"}

// WriteRaw stores lines byte for byte in one transaction. A line already
// stored (same id) is left as it is.
func (s *Store) WriteRaw(ctx context.Context, lines []record.Line) error {
	if len(lines) == 0 {
		return nil
	}
	args := make([]any, 0, len(lines)*len(rawCols))
	sizes := make([]int, len(lines))
	for i := range lines {
		l := &lines[i]
		id := l.ID
		data := l.Data
		if data == nil {
			data = []byte{} // NOT NULL: an empty line is an empty value
		}
		args = append(args, id[:], clean.TextString(l.SourceHost, 255), clean.TextString(l.SourcePath, 1024), l.ID.Offset(), l.ReceivedAt, data)
		sizes[i] = 2*len(data) + len(l.SourcePath) + len(l.SourceHost) + 96
	}
	err := s.write(ctx, s.rawIns, args, sizes)
	if err != nil {
		return fmt.Errorf("write %d rows to %s: %w", len(lines), s.rawName, err)
	}
	return nil
}
