package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// TestLoadDataMatchesInsert writes the same rows with multi-row INSERT and
// with LOAD DATA and compares every column but stored_at; it also checks
// that LOAD DATA stays idempotent and still refuses bad values.
func TestLoadDataMatchesInsert(t *testing.T) {
	env := testenv.Parallel(t)
	ctx := context.Background()
	open := func(suffix string, load bool) *store.Store {
		st, err := store.Open(ctx, store.Config{DSN: env.DSN, RawTable: "raw_" + suffix, CleanTable: "clean_" + suffix, LoadData: load})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	ins, ld := open("insert", false), open("load", true)

	ls := lines(300, 7)
	ls[5].Data = []byte("tab\there\\back\nnewline\x00nul \\N")
	ls[6].Data = []byte{}
	ls[7].SourceHost = "h\tost"
	p, _, err := logformat.Resolve("combined")
	if err != nil {
		t.Fatal(err)
	}
	var rows []clean.Row
	for i := range ls {
		l := ls[i]
		l.Data = fmt.Appendf(nil, `203.0.113.%d - user%d@example.com [27/Nov/2026:06:00:%02d +0100] "GET /a\tb?q=%d HTTP/1.1" %d %d "-" "UA \\ %d"`, i%250, i, i%60, i, 200+i%3, i*7, i)
		var e logformat.Entry
		if err := p.Parse(l.Data, &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		rows = append(rows, clean.Build(&l, &e, "combined"))
	}
	// Columns NULL in most rows but not all: LOAD DATA leaves a column out
	// only when every row of the batch is NULL there.
	country, extra := "FR", `{"k": "v\tw"}`
	rows[3].Country, rows[3].Extra = &country, &extra
	rows[4].Time = nil
	for _, st := range []*store.Store{ins, ld} {
		for range 2 { // idempotent
			if err := st.WriteRaw(ctx, ls); err != nil {
				t.Fatal(err)
			}
			if err := st.WriteClean(ctx, rows); err != nil {
				t.Fatal(err)
			}
		}
	}
	if loads, fallbacks := ld.LoadCounts(); loads != 2 || fallbacks != 2 {
		t.Fatalf("LOAD DATA stored %d batches and fell back %d times, want 2 and 2 (the rewrite's duplicates)", loads, fallbacks)
	}
	for _, tbl := range []string{"raw", "clean"} {
		a := dump(t, ins.DB, tbl+"_insert")
		b := dump(t, ld.DB, tbl+"_load")
		if len(a) != len(ls) || len(b) != len(a) {
			t.Fatalf("%s: %d rows by INSERT, %d by LOAD DATA, want %d", tbl, len(a), len(b), len(ls))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s row %d differs:\nINSERT    %q\nLOAD DATA %q", tbl, i, a[i], b[i])
			}
		}
	}

	// A bad value in a large batch is still refused as a data error.
	bad := "{not json"
	more := make([]clean.Row, 40)
	for i := range more {
		more[i] = clean.Row{ID: record.NewID([8]byte{9}, int64(i)), ReceivedAt: time.Now(), LogFormat: "combined"}
	}
	more[17].Extra = &bad
	if err := ld.WriteClean(ctx, more); err == nil || !store.IsDataError(err) {
		t.Fatalf("invalid JSON should be a data error, got %v", err)
	}
}

// dump returns every row of table but stored_at, as text, ordered by id.
func dump(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query("SELECT * FROM " + store.QuoteIdent(table) + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for i, c := range cols {
			if c == "stored_at" {
				continue
			}
			if vals[i] == nil {
				b.WriteString("NULL|")
			} else {
				fmt.Fprintf(&b, "%q|", vals[i])
			}
		}
		out = append(out, b.String())
	}
	return out
}
