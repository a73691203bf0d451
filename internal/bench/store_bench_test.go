package bench

import (
	"context"
	"fmt"
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
// broker: batches of realistic rows written by 2 writers, as the consumers
// do, by multi-row INSERT and by LOAD DATA. It is the limit of the packed
// (--lines-per-message) pipeline.
//
//	go test -run XXX -bench Store -benchtime 100x ./internal/bench
func BenchmarkStore(b *testing.B) {
	const batch = 2500
	g, err := loggen.New(loggen.Options{Seed: 3})
	if err != nil {
		b.Fatal(err)
	}
	p, _, _ := logformat.Resolve("combined")
	var lines []record.Line
	var rows []clean.Row
	off := int64(0)
	for len(rows) < batch {
		_, data := g.Next()
		l := record.Line{ID: record.NewID([8]byte{1}, off), SourceHost: "bench", SourcePath: "/var/log/nginx/access.log", ReceivedAt: time.Now().UTC(), Data: append([]byte(nil), data...)}
		off += int64(len(data)) + 1
		var e logformat.Entry
		if p.Parse(l.Data, &e) != nil {
			continue
		}
		lines = append(lines, l)
		rows = append(rows, clean.Build(&l, &e, "combined"))
	}
	for _, load := range []bool{false, true} {
		for _, table := range []string{"raw", "clean"} {
			b.Run(fmt.Sprintf("%s/load=%v", table, load), func(b *testing.B) {
				env := testenv.New(b)
				st, err := store.Open(context.Background(), store.Config{DSN: env.DSN, RawTable: "raw_log", CleanTable: "clean_log", LoadData: load})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				var next atomic.Int64
				work := make(chan int)
				var wg sync.WaitGroup
				errs := make(chan error, 2)
				b.ResetTimer()
				start := time.Now()
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
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
								select {
								case errs <- err:
								default:
								}
							}
						}
					}()
				}
				for range b.N {
					work <- 0
				}
				close(work)
				wg.Wait()
				secs := time.Since(start).Seconds()
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
				b.ReportMetric(float64(b.N*batch)/secs, "rows/s")
			})
		}
	}
}
