package main

import (
	"context"
	"encoding/json"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/bench"
	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/record"
)

// benchHooks are the expert flags `datastream bench` gives the components it
// starts: a report of counters and times written at exit, and for consumers
// an exit once a number of lines is handled, and a discard mode that only
// acks (the broker's ceiling, no database).
type benchHooks struct {
	report     string
	cpuProfile string
	memProfile string
	exitLine   int64
	discard    bool
	bare       bool

	// loadCounts, when set, reports the store's LOAD DATA batches and
	// INSERT fallbacks for the report.
	loadCounts func() (loads, fallbacks int64)

	lines   atomic.Int64
	batches atomic.Int64
	first   atomic.Int64
	last    atomic.Int64
}

const expert = "(expert, for datastream bench) "

func (b *benchHooks) producerFlags(fs *config.FlagSet) {
	fs.StringVar(&b.report, "bench-report", "", expert+"write counters and times as JSON to this file at exit")
	fs.StringVar(&b.cpuProfile, "cpu-profile", "", expert+"write a Go CPU profile to this file ({name} is replaced by the component's name)")
	fs.StringVar(&b.memProfile, "mem-profile", "", expert+"write a Go heap profile to this file each time the live heap reaches a new high ({name} as for --cpu-profile)")
}

// profile starts the CPU and heap profiles asked for; the returned func
// ends them.
func (b *benchHooks) profile(name string) (stop func(), err error) {
	stopCPU, err := b.cpuProf(name)
	if err != nil {
		return nil, err
	}
	stopHeap := b.heapProfile(name)
	return func() {
		stopCPU()
		stopHeap()
	}, nil
}

// cpuProf starts the CPU profile if one was asked for; the returned func
// ends it.
func (b *benchHooks) cpuProf(name string) (stop func(), err error) {
	if b.cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(strings.ReplaceAll(b.cpuProfile, "{name}", name))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// heapProfile writes the heap profile whenever the live heap (as of the
// last collection) is 10% above its previous high: the profile left is
// that of the peak, which is what a peak RSS wants explained.
func (b *benchHooks) heapProfile(name string) (stop func()) {
	if b.memProfile == "" {
		return func() {}
	}
	path := strings.ReplaceAll(b.memProfile, "{name}", name)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var high uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > high+high/10 {
				high = live
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// bareFlag is the producer's expert flag for the bare ceiling.
func (b *benchHooks) bareFlag(fs *config.FlagSet) {
	fs.BoolVar(&b.bare, "bare", false, expert+"publish each line as a message of its body alone, without id, time or source (the bare ceiling)")
}

func (b *benchHooks) consumerFlags(fs *config.FlagSet) {
	b.producerFlags(fs)
	fs.BoolVar(&b.discard, "discard", false, expert+"ack every message without storing it (measures the broker alone)")
	fs.Int64Var(&b.exitLine, "exit-after-lines", 0, expert+"exit once this many lines are stored or rejected and acked")
}

// producerReport writes the producer's report.
func (b *benchHooks) producerReport(prod *pipeline.Producer) error {
	if b.report == "" {
		return nil
	}
	s := &prod.Stats
	return writeReport(b.report, bench.ChildReport{
		Lines: s.Read.Load(), Confirmed: s.Confirmed.Load(),
		First: s.FirstRead.Load(), LastRead: s.LastRead.Load(), Last: s.LastConfirm.Load(),
	})
}

func writeReport(path string, r bench.ChildReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// observe counts lines stored or rejected (the handler's Observer).
func (b *benchHooks) observe() pipeline.Observer {
	return func(stored, rejected []record.ID) {
		b.lines.Add(int64(len(stored) + len(rejected)))
	}
}

// consume runs the consumer with the hooks: times of the first and last
// acked batch, exit after exitLine lines, the report at exit.
func (b *benchHooks) consume(ctx context.Context, cc broker.ConsumerConfig, h broker.Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	prev := cc.OnBatch
	cc.OnBatch = func(stored, rejected int) {
		now := time.Now().UnixNano()
		b.first.CompareAndSwap(0, now)
		b.last.Store(now)
		b.batches.Add(1)
		if prev != nil {
			prev(stored, rejected)
		}
		if b.exitLine > 0 && b.lines.Load() >= b.exitLine {
			once.Do(cancel)
		}
	}
	err := broker.Consume(ctx, cc, h)
	if b.report != "" {
		r := bench.ChildReport{Lines: b.lines.Load(), First: b.first.Load(), Last: b.last.Load(), LoadStats: bench.LoadStats{Batches: b.batches.Load()}}
		if b.loadCounts != nil {
			r.Loads, r.Fallbacks = b.loadCounts()
		}
		if werr := writeReport(b.report, r); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// discardHandler acks everything, counting lines.
type discardHandler struct{ b *benchHooks }

func (d discardHandler) Handle(_ context.Context, batch []amqp.Delivery) ([]broker.Reject, error) {
	n := 0
	for i := range batch {
		n += broker.LineCount(&batch[i])
	}
	d.b.lines.Add(int64(n))
	return nil, nil
}
