package enrich_test

import (
	"bufio"
	"os"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/enrich"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
)

// sharedRows are the clean rows of a shared data file (beside the
// repository, never committed), or a skip when it is absent.
func sharedRows(tb testing.TB, name, preset string) []clean.Row {
	tb.Helper()
	fh, err := os.Open("../../../shared/data/" + name)
	if err != nil {
		tb.Skipf("shared data not available: %v", err)
	}
	defer fh.Close()
	f, _ := logformat.Preset(preset)
	var rows []clean.Row
	var e logformat.Entry
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for off := int64(0); sc.Scan(); off += int64(len(sc.Bytes())) + 1 {
		if f.Parse(sc.Bytes(), &e) != nil {
			continue
		}
		line := record.Line{ID: record.NewID([8]byte{1}, off), ReceivedAt: time.Now(), Data: sc.Bytes()}
		rows = append(rows, clean.Build(&line, &e, preset))
	}
	return rows
}

// BenchmarkEnrich: geo (embedded), user agent, bot and visitor key for
// every line of a real day of nginx logs, caches warm. One op is a line.
func BenchmarkEnrich(b *testing.B) {
	rows := sharedRows(b, "elastic-examples_nginx_logs", "combined")
	e, err := enrich.New(enrich.Options{Geo: enrich.Geo{Embedded: enrich.Embedded{}}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range rows {
		e.Enrich(&rows[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Enrich(&rows[i])
		if i++; i == len(rows) {
			i = 0
		}
	}
}
