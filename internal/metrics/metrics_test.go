package metrics

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/record"
)

// handlerFunc is a broker.Handler from a function.
type handlerFunc func(context.Context, []amqp.Delivery) ([]broker.Reject, error)

func (f handlerFunc) Handle(ctx context.Context, b []amqp.Delivery) ([]broker.Reject, error) {
	return f(ctx, b)
}

type dlLog struct{ handlerFunc }

func (dlLog) DeadLetterOnce(context.Context, []amqp.Delivery, []broker.Reject, func([]broker.Reject) error) error {
	return nil
}

func TestConsumerHandlerCounts(t *testing.T) {
	s := New()
	c := s.Consumer("data-clean-consumer")
	fail := true
	h := c.Handler(handlerFunc(func(_ context.Context, b []amqp.Delivery) ([]broker.Reject, error) {
		if fail {
			return nil, errors.New("driver: bad connection")
		}
		return []broker.Reject{
			{Index: 0, Reason: "does not fit the log format: want a byte count"},
			{Index: 1, Reason: "undecodable message: bad body"},
			{Index: 2, Reason: "the database refused the row: Data too long"},
		}, nil
	}))
	batch := make([]amqp.Delivery, 5)
	if _, err := h.Handle(context.Background(), batch); err == nil {
		t.Fatal("the error was swallowed")
	}
	fail = false
	if _, err := h.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	comp := "data-clean-consumer"
	for name, tc := range map[string]struct {
		got, want float64
	}{
		"messages":  {testutil.ToFloat64(s.consumed.WithLabelValues(comp)), 5},
		"errors":    {testutil.ToFloat64(s.batchErrors.WithLabelValues(comp)), 1},
		"format":    {testutil.ToFloat64(s.deadLetters.WithLabelValues(comp, "format")), 1},
		"undecoded": {testutil.ToFloat64(s.deadLetters.WithLabelValues(comp, "undecodable")), 1},
		"database":  {testutil.ToFloat64(s.deadLetters.WithLabelValues(comp, "database")), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}
	if _, ok := c.Handler(dlLog{}).(broker.DeadLetterLog); !ok {
		t.Error("the wrapper hid the handler's dead-letter log")
	}
	if _, ok := c.Handler(handlerFunc(nil)).(broker.DeadLetterLog); ok {
		t.Error("the wrapper invented a dead-letter log")
	}
}

func TestNewestCommittedLineOnlyMovesForward(t *testing.T) {
	s := New()
	c := s.Consumer("data-clean-consumer")
	t1 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	read := time.Now().Add(-2 * time.Second)
	// Two batches committed out of order (several writers): the newer
	// first.
	c.Committed(read, &t1)
	c.Committed(read.Add(-time.Minute), nil)
	got := testutil.ToFloat64(s.newestRead.WithLabelValues("data-clean-consumer"))
	if want := float64(read.UnixNano()) / 1e9; got != want {
		t.Errorf("newest read = %v, want %v (an older batch must not move it back)", got, want)
	}
	if got := testutil.ToFloat64(s.newestLog.WithLabelValues("data-clean-consumer")); got != float64(t1.Unix()) {
		t.Errorf("newest line time = %v, want %v", got, t1.Unix())
	}
	var obs []record.ID
	o := c.Observer(func(stored, _ []record.ID) { obs = append(obs, stored...) })
	o(make([]record.ID, 3), make([]record.ID, 1))
	if len(obs) != 3 || testutil.ToFloat64(s.rows.WithLabelValues("data-clean-consumer")) != 3 {
		t.Errorf("observer: passed %d, counted %v rows", len(obs), testutil.ToFloat64(s.rows.WithLabelValues("data-clean-consumer")))
	}
}

func TestProducerFileLag(t *testing.T) {
	s := New()
	p := s.Producer("logs-producer")
	p.Stats(func() int64 { return 1 }, func() int64 { return 7 }, func() int64 { return 9 })
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 99)+"\n"+strings.Repeat("y", 49)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.OnLine(path, 100, 99)
	want := `
# HELP datastream_producer_file_lag_bytes Bytes of a file not yet read (its size minus the read position; plain files only).
# TYPE datastream_producer_file_lag_bytes gauge
datastream_producer_file_lag_bytes{path="` + path + `"} 50
# HELP datastream_producer_lines_confirmed_total Lines RabbitMQ confirmed (on disk in every queue).
# TYPE datastream_producer_lines_confirmed_total counter
datastream_producer_lines_confirmed_total{component="logs-producer"} 9
# HELP datastream_producer_read_bytes_total Bytes of log read (newlines included).
# TYPE datastream_producer_read_bytes_total counter
datastream_producer_read_bytes_total{component="logs-producer"} 100
`
	if err := testutil.GatherAndCompare(s.Registry, strings.NewReader(want),
		"datastream_producer_file_lag_bytes", "datastream_producer_lines_confirmed_total", "datastream_producer_read_bytes_total"); err != nil {
		t.Error(err)
	}
}

// populated is a Set with every series present, as a process running all
// three components has them.
func populated(t *testing.T) *Set {
	s := New()
	p := s.Producer("logs-producer")
	p.Stats(func() int64 { return 0 }, func() int64 { return 0 }, func() int64 { return 0 })
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.OnLine(path, 1, 1)
	p.OnRetry(true)
	p.OnRetry(false)
	c := s.Consumer("data-clean-consumer")
	now := time.Now()
	c.Committed(now, &now)
	h := c.Handler(handlerFunc(func(context.Context, []amqp.Delivery) ([]broker.Reject, error) {
		return []broker.Reject{{Reason: "x"}}, nil
	}))
	_, _ = h.Handle(context.Background(), nil)
	c.Observer(nil)(nil, nil)
	s.batchErrors.WithLabelValues("data-clean-consumer").Add(0)
	s.OnDial("data-lake-consumer", "rabbitmq")()
	s.queueDepth.WithLabelValues("q").Set(1)
	s.up.WithLabelValues("rabbitmq").Set(1)
	return s
}

// names are the series names a Set exposes (histograms with their parts).
func names(t *testing.T, s *Set) map[string]bool {
	mfs, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		out[n] = true
		if mf.GetType().String() == "HISTOGRAM" {
			out[n+"_bucket"], out[n+"_sum"], out[n+"_count"] = true, true, true
		}
	}
	return out
}

// The names and help of every series follow Prometheus's conventions.
func TestMetricNamesLint(t *testing.T) {
	s := populated(t)
	problems, err := testutil.GatherAndLint(s.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "datastream_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
	n := names(t, s)
	for _, want := range []string{"datastream_producer_lines_read_total", "datastream_producer_read_bytes_total", "datastream_producer_file_lag_bytes",
		"datastream_producer_messages_published_total", "datastream_producer_lines_confirmed_total", "datastream_producer_messages_nacked_total",
		"datastream_producer_messages_resent_total", "datastream_consumer_messages_total", "datastream_consumer_rows_written_total",
		"datastream_consumer_dead_letters_total", "datastream_consumer_batch_messages", "datastream_consumer_batch_duration_seconds",
		"datastream_reconnects_total", "datastream_newest_committed_read_timestamp_seconds", "datastream_newest_committed_line_timestamp_seconds",
		"datastream_commit_lag_seconds", "datastream_queue_messages", "datastream_up", "datastream_consumer_batch_errors_total"} {
		if !n[want] {
			t.Errorf("no series %s", want)
		}
	}
}

// TestFileLagAfterTheFileCameBack: a file rotated away drops out of the
// lag; the file then made at its path is reported again, though the
// producer looks the position up once per run of lines from one path.
func TestFileLagAfterTheFileCameBack(t *testing.T) {
	s := New()
	p := s.Producer("logs-producer")
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.OnLine(path, 2, 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(s.Registry, "datastream_producer_file_lag_bytes"); err != nil || n != 0 {
		t.Fatalf("%d lag series for a removed file, %v", n, err)
	}
	if err := os.WriteFile(path, []byte("yyyy\nzz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.OnLine(path, 5, 4)
	want := `
# HELP datastream_producer_file_lag_bytes Bytes of a file not yet read (its size minus the read position; plain files only).
# TYPE datastream_producer_file_lag_bytes gauge
datastream_producer_file_lag_bytes{path="` + path + `"} 3
`
	if err := testutil.GatherAndCompare(s.Registry, strings.NewReader(want), "datastream_producer_file_lag_bytes"); err != nil {
		t.Error(err)
	}
}
