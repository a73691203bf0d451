package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// sourcesOf returns "host|path" of each row of table, by id, through
// log_source.
func sourcesOf(t *testing.T, st *store.Store, table string) map[record.ID]string {
	t.Helper()
	rows, err := st.DB.Query("SELECT t.id, s.host, s.path FROM " + store.QuoteIdent(table) + " t JOIN log_source s ON s.id = t.source_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[record.ID]string{}
	for rows.Next() {
		var id []byte
		var host, path string
		if err := rows.Scan(&id, &host, &path); err != nil {
			t.Fatal(err)
		}
		out[record.ID(id)] = host + "|" + path
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantSources checks that table holds exactly the rows of want, each
// joined to the source want gives ("host|path").
func wantSources(t *testing.T, st *store.Store, table string, want map[record.ID]string) {
	t.Helper()
	got := sourcesOf(t, st, table)
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows joined to a source, want %d", table, len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("%s row %s: source %q, want %q", table, id, got[id], w)
		}
	}
}

// Rows point at their source; a batch may mix sources, and processes that
// meet a source separately agree on its id.
func TestSources(t *testing.T) {
	env := testenv.Parallel(t)
	ctx := context.Background()
	a, b := env.Store(t), env.Store(t) // two processes: two caches
	ls := lines(100, 1)
	want := map[record.ID]string{}
	for i := range ls {
		switch {
		case i >= 40 && i < 60:
			ls[i].SourceHost, ls[i].SourcePath = "web-2", "/var/log/nginx/access.log"
		case i == 70:
			ls[i].SourceHost, ls[i].SourcePath = "bad\xffhost", "/logs/'; DROP TABLE log_source; --"
		}
		want[ls[i].ID] = ls[i].SourceHost + "|" + ls[i].SourcePath
	}
	want[ls[70].ID] = "bad\uFFFDhost|/logs/'; DROP TABLE log_source; --" // invalid UTF-8 is replaced
	rows := make([]clean.Row, len(ls))
	for i := range ls {
		rows[i] = clean.Row{ID: ls[i].ID, SourceHost: ls[i].SourceHost, SourcePath: ls[i].SourcePath, ReceivedAt: time.Now(), LogFormat: "combined"}
	}
	if err := a.WriteRaw(ctx, ls[:50]); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteRaw(ctx, ls[50:]); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteClean(ctx, rows); err != nil {
		t.Fatal(err)
	}
	wantAllSources(t, env, a, want, 3)
}

// wantAllSources checks both tables with wantSources, and that log_source
// holds n sources.
func wantAllSources(t *testing.T, env *testenv.Env, st *store.Store, want map[record.ID]string, n int) {
	t.Helper()
	for _, table := range []string{env.RawTable, env.CleanTable} {
		wantSources(t, st, table, want)
	}
	var got int
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM log_source").Scan(&got); err != nil || got != n {
		t.Fatalf("log_source holds %d sources (%v), want %d", got, err, n)
	}
}

// Tables written by a binary of schema version 3 (host and path in every
// row) are moved to source ids, and their columns dropped.
func TestMigrateSourcesFromVersion3(t *testing.T) {
	env := testenv.Parallel(t)
	ctx := context.Background()
	cfg := store.Config{DSN: env.DSN, RawTable: env.RawTable, CleanTable: env.CleanTable}
	old, err := store.OpenAt(ctx, cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	want := map[record.ID]string{}
	for i := range 30 {
		id := record.NewID([8]byte{4}, int64(i)*100)
		host, path := "web-1", "/var/log/nginx/access.log"
		if i%3 == 0 {
			host, path = "web-2", fmt.Sprintf("/srv/%d/access.log", i%2)
		}
		want[id] = host + "|" + path
		if _, err := old.DB.Exec("INSERT INTO "+store.QuoteIdent(env.RawTable)+" (id, source_host, source_path, file_offset, received_at, line) VALUES (?, ?, ?, ?, NOW(6), 'x')", id[:], host, path, id.Offset()); err != nil {
			t.Fatal(err)
		}
		if _, err := old.DB.Exec("INSERT INTO "+store.QuoteIdent(env.CleanTable)+" (id, source_host, source_path, received_at) VALUES (?, ?, ?, NOW(6))", id[:], host, path); err != nil {
			t.Fatal(err)
		}
	}
	st := env.Store(t) // migrates to the current version
	for _, table := range []string{env.RawTable, env.CleanTable} {
		wantSources(t, st, table, want)
		var n int
		if err := st.DB.QueryRow("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name IN ('source_host', 'source_path')", table).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s still has %d of the old columns (%v)", table, n, err)
		}
	}
	// New rows of a migrated source reuse its id.
	l := record.Line{ID: record.NewID([8]byte{5}, 0), SourceHost: "web-1", SourcePath: "/var/log/nginx/access.log", ReceivedAt: time.Now(), Data: []byte("y")}
	if err := st.WriteRaw(ctx, []record.Line{l}); err != nil {
		t.Fatal(err)
	}
	var sources, ids int
	if err := st.DB.QueryRow("SELECT COUNT(*), (SELECT COUNT(DISTINCT source_id) FROM "+store.QuoteIdent(env.RawTable)+") FROM log_source").Scan(&sources, &ids); err != nil || sources != 3 || ids != 3 {
		t.Fatalf("%d sources and %d distinct ids in raw rows (%v), want 3 and 3", sources, ids, err)
	}
}

// Lines whose messages name no source (record.Line.SourceInID) point at
// their file's row of log_source, which the file's announcement completes
// whether it is stored before or after the lines, by whichever process.
func TestSourcesAnnounced(t *testing.T) {
	env := testenv.Parallel(t)
	ctx := context.Background()
	a, b := env.Store(t), env.Store(t) // competing consumers: two caches
	f1 := lines(30, 1)
	f2 := lines(30, 2)
	for _, ls := range [][]record.Line{f1, f2} {
		for i := range ls {
			ls[i].SourceHost, ls[i].SourcePath, ls[i].SourceInID = "", "", true
		}
	}
	// One line of the format before, with its source in the message.
	f2[29].SourceHost, f2[29].SourcePath, f2[29].SourceInID = "old-host", "/old.log", false
	ann1 := record.Source{File: f1[0].ID.File(), Host: "web-1", Path: "/var/log/nginx/access.log"}
	ann2 := record.Source{File: f2[0].ID.File(), Host: "web-2", Path: "/var/log/nginx/access.log"}

	// File 1: its lines before its announcement, on another process.
	if err := a.WriteRaw(ctx, f1[:10]); err != nil {
		t.Fatal(err)
	}
	if got := sourcesOf(t, a, env.RawTable)[f1[0].ID]; got != "|" {
		t.Fatalf("a line before its announcement: source %q, want an empty one", got)
	}
	if err := b.RecordSources(ctx, []record.Source{ann1}); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteRaw(ctx, f1[10:]); err != nil { // a's cache knows the id
		t.Fatal(err)
	}
	// File 2: announced first; lines of both files in one batch.
	if err := a.RecordSources(ctx, []record.Source{ann2, ann2}); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteRaw(ctx, f2); err != nil {
		t.Fatal(err)
	}
	// A later announcement (the file renamed by rotation) changes nothing.
	if err := a.RecordSources(ctx, []record.Source{{File: ann1.File, Host: "web-1", Path: "/var/log/nginx/access.log.1"}}); err != nil {
		t.Fatal(err)
	}
	want := map[record.ID]string{}
	var rows []clean.Row
	for _, l := range append(append([]record.Line{}, f1...), f2...) {
		want[l.ID] = "web-1|/var/log/nginx/access.log"
		if l.ID.File() == ann2.File {
			want[l.ID] = "web-2|/var/log/nginx/access.log"
		}
		rows = append(rows, clean.Row{ID: l.ID, SourceHost: l.SourceHost, SourcePath: l.SourcePath, SourceInID: l.SourceInID, ReceivedAt: time.Now(), LogFormat: "combined"})
	}
	want[f2[29].ID] = "old-host|/old.log"
	if err := b.WriteClean(ctx, rows); err != nil {
		t.Fatal(err)
	}
	wantAllSources(t, env, a, want, 3) // one per file, and the old format's
	// The rollups count each row for its announced host.
	for _, r := range rows {
		if host, _, _ := strings.Cut(want[r.ID], "|"); r.SourceHost != host {
			t.Fatalf("row %x counted for host %q, want %q", r.ID, r.SourceHost, host)
		}
	}
}
