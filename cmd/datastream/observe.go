package main

import (
	"context"
	"log/slog"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/metrics"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/store"
)

// observability is a process's metrics and health endpoints; nil (every
// method a no-op) without --metrics-listen.
type observability struct {
	set    *metrics.Set
	health *metrics.Health
	prod   *metrics.Producer
	s      *settings
}

func metricsFlag(fs *config.FlagSet, s *settings) {
	fs.String(&s.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9464; off when empty)")
}

// serve starts the endpoints at once, so /healthz answers and /readyz says
// "starting" while the component waits for its servers.
func (s *settings) serveMetrics(ctx context.Context) (*observability, error) {
	if s.MetricsListen == "" {
		return nil, nil
	}
	set := metrics.New()
	o := &observability{set: set, health: metrics.NewHealth(set), s: s}
	if _, err := metrics.Serve(ctx, s.MetricsListen, set, o.health); err != nil {
		return nil, err
	}
	return o, nil
}

// producer instruments the producer's configuration.
func (o *observability) producer(cfg *pipeline.ProducerConfig) {
	if o == nil {
		return
	}
	o.prod = o.set.Producer("logs-producer")
	cfg.OnLine = o.prod.OnLine
	cfg.Publisher.OnRetry = o.prod.OnRetry
	cfg.Publisher.Dialer.OnDial = o.set.OnDial("logs-producer", "rabbitmq")
}

// producerStats exposes the producer's own counters.
func (o *observability) producerStats(prod *pipeline.Producer) {
	if o == nil {
		return
	}
	o.prod.Stats(prod.Stats.Read.Load, prod.Stats.Published.Load, prod.Stats.Confirmed.Load)
}

// consumer instruments a consumer's configuration and handler: what it
// stores is counted and timed through the handler's writer and observer.
func (o *observability) consumer(component string, cc *broker.ConsumerConfig, h broker.Handler) broker.Handler {
	if o == nil {
		return h
	}
	c := o.set.Consumer(component)
	cc.Dialer.OnDial = o.set.OnDial(component, "rabbitmq")
	// The store stays as it is: the handlers look for its optional
	// methods (source announcements, dead letters once).
	switch x := h.(type) {
	case *pipeline.Lake:
		x.OnCommit = c.Committed
		x.Observe = c.Observer(x.Observe)
	case *pipeline.Clean:
		x.OnCommit = c.Committed
		x.Observe = c.Observer(x.Observe)
	}
	return c.Handler(h)
}

// ready adds the probes of what the process needs (queues on RabbitMQ, the
// database when st is not nil) and marks it started.
func (o *observability) ready(queues []string, st *store.Store) {
	if o == nil {
		return
	}
	d, err := o.s.dialer("health probe")
	if err != nil {
		slog.Warn("health probe", "err", err)
	}
	o.health.AddAMQP("rabbitmq", d, queues)
	if st != nil {
		o.health.AddSQL("mysql", st.DB)
	}
	o.health.Start()
}
