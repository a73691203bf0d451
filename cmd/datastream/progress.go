package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/progress"
)

// barInterval is how often the progress bar is redrawn; statusInterval how
// often `run` prints its status line on a terminal.
const (
	barInterval    = 200 * time.Millisecond
	statusInterval = 10 * time.Second
)

// readTracker adds up how far the producer has read in every file.
type readTracker struct {
	mu   sync.Mutex
	pos  map[string]int64
	done int64
}

func (r *readTracker) onLine(path string, end int64) {
	r.mu.Lock()
	if r.pos == nil {
		r.pos = map[string]int64{}
	}
	if end > r.pos[path] {
		r.done += end - r.pos[path]
		r.pos[path] = end
	}
	r.mu.Unlock()
}

func (r *readTracker) bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// trackReads makes cfg report reads to a tracker as well as to whatever
// hook it has, when stderr is a terminal (nil otherwise).
func trackReads(cfg *pipeline.ProducerConfig) *readTracker {
	if !progress.IsTerminal(os.Stderr) {
		return nil
	}
	r := &readTracker{}
	next := cfg.OnLine
	cfg.OnLine = func(path string, end int64, size int) {
		r.onLine(path, end)
		if next != nil {
			next(path, end, size)
		}
	}
	return r
}

// backfillBar shows the producer reading what the files held at start;
// with follow it ends once that is read (the producer then just follows).
func backfillBar(ctx context.Context, log string, follow bool, r *readTracker, prod *pipeline.Producer) (stop func()) {
	bar, total := startBar(log, r, func() progress.Counts {
		return progress.Counts{Lines: prod.Stats.Read.Load(), Confirmed: prod.Stats.Confirmed.Load(), Stored: -1}
	})
	if bar != nil && follow {
		go func() {
			t := time.NewTicker(barInterval)
			defer t.Stop()
			for r.bytes() < total && ctx.Err() == nil {
				<-t.C
			}
			bar.Stop()
		}()
	}
	return bar.Stop
}

// startBar starts a bar over the bytes of log's files read so far (nil,
// and a Stop that does nothing, off a terminal); counts gives the rest.
func startBar(log string, r *readTracker, counts func() progress.Counts) (*progress.Bar, int64) {
	if r == nil {
		return nil, 0
	}
	total := progress.Sizes(log)
	return progress.Start(os.Stderr, barInterval, func() progress.Counts {
		c := counts()
		c.Done, c.Total = r.bytes(), total
		return c
	}), total
}

// statusLine is run's line every statusInterval on a terminal: rates over
// the interval and how far the tables are behind what was read.
func statusLine(prod *pipeline.Producer, land *landing) func() string {
	var prevRead, prevConf, prevLake, prevClean int64
	prevT := time.Now()
	return func() string {
		now := time.Now()
		secs := now.Sub(prevT).Seconds()
		read, conf := prod.Stats.Read.Load(), prod.Stats.Confirmed.Load()
		lake, clean := land.stored[0].Load(), land.stored[1].Load()
		rate := func(n, prev int64) string { return progress.Thousands(int64(float64(n-prev) / secs)) }
		s := fmt.Sprintf("%s  read %s/s  confirmed %s/s  raw %s/s  clean %s/s  behind: raw %s, clean %s lines",
			now.Format("15:04:05"), rate(read, prevRead), rate(conf, prevConf), rate(lake, prevLake), rate(clean, prevClean),
			progress.Thousands(max(0, read-lake)), progress.Thousands(max(0, read-clean)))
		prevRead, prevConf, prevLake, prevClean, prevT = read, conf, lake, clean, now
		return s
	}
}

// runBar is run --once's bar: read, confirmed, in both tables.
func runBar(log string, r *readTracker, prod *pipeline.Producer, land *landing) (stop func()) {
	bar, _ := startBar(log, r, func() progress.Counts {
		read := prod.Stats.Read.Load()
		lake, clean := land.left()
		return progress.Counts{Lines: read, Confirmed: prod.Stats.Confirmed.Load(), Stored: max(0, read-int64(max(lake, clean)))}
	})
	return bar.Stop
}
