package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

func lines(n int, file byte) []record.Line {
	out := make([]record.Line, n)
	off := int64(0)
	for i := range out {
		data := []byte(strings.Repeat("x", i%50) + "\xff\x00'\";--")
		out[i] = record.Line{ID: record.NewID([8]byte{file}, off), SourceHost: "h", SourcePath: "/var/log/a.log", ReceivedAt: time.Now().UTC(), Data: data}
		off += int64(len(data)) + 1
	}
	return out
}

func TestWriteRawIdempotentAndExact(t *testing.T) {
	env := testenv.Parallel(t)
	env.RawTable = "raw-log" // the original design's name must work
	st := env.Store(t)
	ctx := context.Background()
	ls := lines(1200, 1)
	ls = append(ls, record.Line{ID: record.NewID([8]byte{2}, 0), ReceivedAt: time.Now(), Data: bytes.Repeat([]byte{0xfe}, 1<<20)})
	for range 2 {
		if err := st.WriteRaw(ctx, ls); err != nil {
			t.Fatal(err)
		}
	}
	raw, _, err := st.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if raw != int64(len(ls)) {
		t.Fatalf("%d rows after writing %d lines twice", raw, len(ls))
	}
	if r, c, err := st.CountFiles(ctx, [][8]byte{{1}}); err != nil || r != 1200 || c != 0 {
		t.Fatalf("CountFiles(file 1) = %d, %d, %v; want 1200 raw rows", r, c, err)
	}
	if r, _, err := st.CountFiles(ctx, [][8]byte{{1}, {2}}); err != nil || r != int64(len(ls)) {
		t.Fatalf("CountFiles(files 1, 2) = %d, %v; want %d", r, err, len(ls))
	}
	rows, err := st.DB.Query("SELECT id, line FROM `raw-log`")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[record.ID][]byte{}
	for _, l := range ls {
		want[l.ID] = l.Data
	}
	for rows.Next() {
		var id, line []byte
		if err := rows.Scan(&id, &line); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want[record.ID(id)], line) {
			t.Fatalf("row %x: bytes differ", id)
		}
	}
}

func TestWriteCleanRejectsBadRowAsDataError(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	ok := "fine"
	good := clean.Row{ID: record.NewID([8]byte{3}, 1), ReceivedAt: time.Now(), Method: &ok, LogFormat: "combined"}
	if err := st.WriteClean(ctx, []clean.Row{good, good}); err != nil {
		t.Fatal(err)
	}
	bad := "{not json"
	poison := clean.Row{ID: record.NewID([8]byte{3}, 2), ReceivedAt: time.Now(), Extra: &bad}
	err := st.WriteClean(ctx, []clean.Row{poison})
	if err == nil || !store.IsDataError(err) {
		t.Fatalf("invalid JSON should be a data error, got %v", err)
	}
	_, n, err := st.Count(ctx)
	if err != nil || n != 1 {
		t.Fatalf("clean rows %d (%v), want 1", n, err)
	}
}

// A message from a foreign publisher has an id made from its content (see
// broker.Decode), so the "offset" half of the id can have its top bit set:
// the row must still be stored, byte for byte.
func TestWriteRawForeignID(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	ctx := context.Background()
	for _, n := range []int{1, 40} { // INSERT, then LOAD DATA
		ls := make([]record.Line, n)
		for i := range ls {
			sum := sha256.Sum256(fmt.Appendf(nil, "foreign %d %d", n, i))
			id := record.ID(sum[:16])
			id[8] |= 0x80
			ls[i] = record.Line{ID: id, ReceivedAt: time.Now(), Data: fmt.Appendf(nil, "line %d", i)}
		}
		if err := st.WriteRaw(ctx, ls); err != nil {
			t.Fatalf("%d lines: %v", n, err)
		}
		var off uint64
		if err := st.DB.QueryRow("SELECT file_offset FROM "+store.QuoteIdent(env.RawTable)+" WHERE id = ?", ls[0].ID[:]).Scan(&off); err != nil {
			t.Fatal(err)
		}
		if want := binary.BigEndian.Uint64(ls[0].ID[8:]); off != want {
			t.Fatalf("file_offset %d, want %d", off, want)
		}
	}
	if raw, _, err := st.Count(ctx); err != nil || raw != 41 {
		t.Fatalf("%d raw rows (%v), want 41", raw, err)
	}
}
