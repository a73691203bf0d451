package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/loggen"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// BenchmarkStore measures MariaDB's own rate for Datastream's rows, with no
// broker: batches of realistic rows written by 2 writers per table, as the
// consumers do, by multi-row INSERT and by LOAD DATA, for each table alone
// and for both at once. "both" is the limit of the packed
// (--lines-per-message) pipeline, which writes every line to both tables.
// When MariaDB runs on this machine it also reports MariaDB's CPU, in
// seconds and µs per line (of the table, or of both for "both"), from /proc.
//
//	go test -run XXX -bench Store -benchtime 200x ./internal/bench
//
// DATASTREAM_BENCH_BATCH sets the rows per batch (2500): the consumers'
// batches at one line per message are ~200 rows, where the cost per
// batch shows.
//
// DATASTREAM_BENCH_NO_ROLLUPS, if set, leaves the dashboard's rollups out
// of clean writes, to see what they cost.
//
// DATASTREAM_BENCH_SQL, if set, holds statements (separated by ;) run after
// the tables are made, to try a schema change before writing a migration.
func BenchmarkStore(b *testing.B) {
	batch := 2500
	if v, _ := strconv.Atoi(os.Getenv("DATASTREAM_BENCH_BATCH")); v > 0 {
		batch = v
	}
	lines, rows := storeBenchRows(b, batch)
	for _, load := range []bool{false, true} {
		for _, table := range []string{"raw", "clean", "both"} {
			b.Run(fmt.Sprintf("%s/load=%v", table, load), func(b *testing.B) {
				env := testenv.New(b)
				st, err := store.Open(context.Background(), store.Config{DSN: env.DSN, RawTable: "raw_log", CleanTable: "clean_log", LoadData: load,
					NoRollups: os.Getenv("DATASTREAM_BENCH_NO_ROLLUPS") != ""})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				for _, q := range strings.Split(os.Getenv("DATASTREAM_BENCH_SQL"), ";") {
					if strings.TrimSpace(q) == "" {
						continue
					}
					if _, err := st.DB.Exec(q); err != nil {
						b.Fatal(err)
					}
				}
				tables := []string{table}
				if table == "both" {
					tables = []string{"raw", "clean"}
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, 4)
				// MariaDB's CPU over the writes, when it runs on this
				// machine (the figure docs/performance.md quotes).
				meter := startServers("", env.DSN)
				b.ResetTimer()
				start := time.Now()
				for _, t := range tables {
					work := make(chan struct{}, b.N)
					for range b.N {
						work <- struct{}{}
					}
					close(work)
					for range 2 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if err := writeBatches(st, t, work, &next, lines, rows); err != nil {
								select {
								case errs <- err:
								default:
								}
							}
						}()
					}
				}
				wg.Wait()
				secs := time.Since(start).Seconds()
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
				b.ReportMetric(float64(b.N*batch)/secs, "lines/s")
				for _, s := range meter.stop(int64(b.N * batch)) {
					if s.Name == "mariadb" {
						b.ReportMetric(s.MicrosPerLine, "mariadb-cpu-µs/line")
						b.ReportMetric(s.CPUSeconds, "mariadb-cpu-s")
					}
				}
			})
		}
	}
}

// storeBenchRows makes n realistic lines that parse, and their clean rows.
func storeBenchRows(b *testing.B, n int) ([]record.Line, []clean.Row) {
	g, err := loggen.New(loggen.Options{Seed: 3})
	if err != nil {
		b.Fatal(err)
	}
	p, _, _ := logformat.Resolve("combined")
	var lines []record.Line
	var rows []clean.Row
	off := int64(0)
	for len(rows) < n {
		_, data := g.Next()
		l := record.Line{ID: record.NewID([8]byte{1}, off), SourceHost: "web-1", SourcePath: "/var/log/nginx/access.log", ReceivedAt: time.Now().UTC(), Data: append([]byte(nil), data...)}
		off += int64(len(data)) + 1
		var e logformat.Entry
		if p.Parse(l.Data, &e) != nil {
			continue
		}
		lines = append(lines, l)
		rows = append(rows, clean.Build(&l, &e, "combined"))
	}
	return lines, rows
}

// writeBatches writes one batch of table per item of work, each under
// fresh ids, until work is drained. Ids grow like a file's offsets do.
func writeBatches(st *store.Store, table string, work <-chan struct{}, next *atomic.Int64, lines []record.Line, rows []clean.Row) error {
	ls := append([]record.Line(nil), lines...)
	rs := append([]clean.Row(nil), rows...)
	for range work {
		base := next.Add(1) << 32
		for i := range ls {
			ls[i].ID = record.NewID([8]byte{2}, base+int64(i))
			rs[i].ID = ls[i].ID
		}
		var err error
		if table == "raw" {
			err = st.WriteRaw(context.Background(), ls)
		} else {
			err = st.WriteClean(context.Background(), rs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
