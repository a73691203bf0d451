// Package metrics is Datastream's Prometheus instrumentation and its
// health endpoints. It hooks into the components from the outside (their
// callbacks and wrappers of the interfaces they write through), so the
// pipeline itself knows nothing of Prometheus. One Set serves every
// component of a process: `run` shows all three on one port, each series
// labelled with its component.
package metrics

import (
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const ns = "datastream"

// Set is a process's registry and the series every component writes.
type Set struct {
	Registry *prometheus.Registry

	bytesRead             *prometheus.CounterVec
	nacked, resent        *prometheus.CounterVec
	consumed, rows        *prometheus.CounterVec
	deadLetters           *prometheus.CounterVec
	batchErrors           *prometheus.CounterVec
	batchMessages         *prometheus.HistogramVec
	batchSeconds          *prometheus.HistogramVec
	reconnects            *prometheus.CounterVec
	newestRead, newestLog *prometheus.GaugeVec
	commitLag             *prometheus.HistogramVec
	queueDepth            *prometheus.GaugeVec
	up                    *prometheus.GaugeVec

	files fileLag
}

// New registers Datastream's series, Go's runtime series and the process's.
func New() *Set {
	s := &Set{Registry: prometheus.NewRegistry()}
	r := s.Registry
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{r}
	s.bytesRead = f.counterVec("producer_read_bytes_total", "Bytes of log read (newlines included).", "component")
	s.nacked = f.counterVec("producer_messages_nacked_total", "Messages RabbitMQ nacked or returned as unroutable (each is sent again).", "component")
	s.resent = f.counterVec("producer_messages_resent_total", "Messages sent again: after a nack, a return or a lost connection.", "component")
	s.consumed = f.counterVec("consumer_messages_total", "Messages consumed and acked.", "component")
	s.rows = f.counterVec("consumer_rows_written_total", "Rows committed to the table (one per line).", "component")
	s.deadLetters = f.counterVec("consumer_dead_letters_total", "Lines sent to the dead-letter queue, by reason class (undecodable, format, database).", "component", "reason")
	s.batchErrors = f.counterVec("consumer_batch_errors_total", "Batches the database failed to store (retried; the messages stay unacked).", "component")
	s.batchMessages = f.histogramVec("consumer_batch_messages", "Messages in each batch stored.", prometheus.ExponentialBuckets(1, 4, 7), "component")
	s.batchSeconds = f.histogramVec("consumer_batch_duration_seconds", "Time to store one batch (decode, write, commit).", prometheus.ExponentialBuckets(0.001, 3, 10), "component")
	s.reconnects = f.counterVec("reconnects_total", "Connection attempts after the first, by target (rabbitmq, mysql).", "component", "target")
	s.newestRead = f.gaugeVec("newest_committed_read_timestamp_seconds", "When the producer read the newest line committed (unix time): time() minus it is the end-to-end lag.", "component")
	s.newestLog = f.gaugeVec("newest_committed_line_timestamp_seconds", "The log's own time of the newest line committed (unix time; clean consumer).", "component")
	s.commitLag = f.histogramVec("commit_lag_seconds", "From the producer reading a line to its row being committed (the newest line of each batch).", prometheus.ExponentialBuckets(0.001, 4, 10), "component")
	s.queueDepth = f.gaugeVec("queue_messages", "Messages ready in a queue (passive declare, no management API).", "queue")
	s.up = f.gaugeVec("up", "1 when the last health probe of a dependency succeeded.", "target")
	s.files.desc = prometheus.NewDesc(ns+"_producer_file_lag_bytes", "Bytes of a file not yet read (its size minus the read position; plain files only).", []string{"path"}, nil)
	r.MustRegister(&s.files)
	return s
}

type factory struct{ r *prometheus.Registry }

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, labels)
	f.r.MustRegister(g)
	return g
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(h)
	return h
}

// Producer instruments the producer; its series appear once it exists.
type Producer struct {
	s                         *Set
	component                 string
	bytesRead, nacked, resent prometheus.Counter
	// The read position of the file of the last line: lines mostly come
	// from the file of the line before (OnLine runs on one goroutine).
	// lastGen is the fileLag generation it was looked up in.
	lastPath string
	lastPos  *atomic.Int64
	lastGen  int64
}

// Producer returns the instrumentation of the producer.
func (s *Set) Producer(component string) *Producer {
	return &Producer{s: s, component: component,
		bytesRead: s.bytesRead.WithLabelValues(component),
		nacked:    s.nacked.WithLabelValues(component), resent: s.resent.WithLabelValues(component)}
}

// Stats registers the producer's counters kept elsewhere: lines read,
// messages published and lines confirmed, read when scraped.
func (p *Producer) Stats(read, published, confirmed func() int64) {
	labels := prometheus.Labels{"component": p.component}
	p.s.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "producer_lines_read_total", Help: "Lines read from the log files.", ConstLabels: labels},
			func() float64 { return float64(read()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "producer_messages_published_total", Help: "Messages handed to RabbitMQ (first sends).", ConstLabels: labels},
			func() float64 { return float64(published()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "producer_lines_confirmed_total", Help: "Lines RabbitMQ confirmed (on disk in every queue).", ConstLabels: labels},
			func() float64 { return float64(confirmed()) }),
	)
}

// OnLine is the producer's per-line hook: lines and bytes read, and the
// read position of each file for its lag.
func (p *Producer) OnLine(path string, end int64, size int) {
	p.bytesRead.Add(float64(size + 1))
	if gen := p.s.files.gen.Load(); p.lastPos == nil || path != p.lastPath || gen != p.lastGen {
		p.lastPath, p.lastPos, p.lastGen = path, p.s.files.slot(path), gen
	}
	p.lastPos.Store(end)
}

// OnRetry is the publisher's hook.
func (p *Producer) OnRetry(nacked bool) {
	if nacked {
		p.nacked.Inc()
	} else {
		p.resent.Inc()
	}
}

// OnDial returns a dial hook counting every attempt after the first as a
// reconnect of component to target.
func (s *Set) OnDial(component, target string) func() {
	c := s.reconnects.WithLabelValues(component, target)
	var first atomic.Bool
	return func() {
		if !first.CompareAndSwap(false, true) {
			c.Inc()
		}
	}
}

// fileLag reports, per file read, its size minus the read position.
type fileLag struct {
	desc *prometheus.Desc
	pos  sync.Map     // path → *atomic.Int64
	gen  atomic.Int64 // counts removals from pos, so cached slots are looked up again
}

// slot is the read position of path.
func (f *fileLag) slot(path string) *atomic.Int64 {
	v, ok := f.pos.Load(path)
	if !ok {
		v, _ = f.pos.LoadOrStore(path, new(atomic.Int64))
	}
	return v.(*atomic.Int64)
}

func (f *fileLag) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *fileLag) Collect(ch chan<- prometheus.Metric) {
	f.pos.Range(func(k, v any) bool {
		path := k.(string)
		if strings.HasSuffix(path, ".gz") {
			return true // positions count uncompressed bytes
		}
		fi, err := os.Stat(path)
		if err != nil {
			f.pos.Delete(path) // rotated away and gone
			f.gen.Add(1)
			return true
		}
		ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, float64(max(0, fi.Size()-v.(*atomic.Int64).Load())), path)
		return true
	})
}
