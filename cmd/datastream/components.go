package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/tail"
)

func init() {
	register("setup", "declare the RabbitMQ topology and create the database schema (idempotent)", runSetup)
	register("logs-producer", "follow access logs and publish each line to RabbitMQ", runProducer)
	register("data-lake-consumer", "store every line byte for byte in raw_log", runLake)
	register("data-clean-consumer", "parse every line into typed rows of clean_log", runClean)
}

func runSetup(ctx context.Context, args []string) error {
	var s settings
	fs, err := newFlags("setup", "setup [flags]", &s)
	if err != nil {
		return err
	}
	if err := parse(fs, &s, args); err != nil {
		return err
	}
	d, err := s.dialer("setup")
	if err != nil {
		return err
	}
	if err := s.topology().DeclareWith(d); err != nil {
		return err
	}
	st, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Printf("RabbitMQ %s: exchange %q → %s queues %q, %q; rejects in %q, %q\n",
		config.RedactURL(s.AMQPURL), s.Exchange, s.QueueType, s.LakeQueue, s.CleanQueue,
		broker.DeadLetterQueue(s.LakeQueue), broker.DeadLetterQueue(s.CleanQueue))
	fmt.Printf("MySQL: tables %q and %q in database %q\n", s.RawTable, s.CleanTable, st.Database())
	return nil
}

type producerSettings struct {
	settings
	Log          string
	StateDir     string
	Follow       bool
	PollInterval time.Duration
	MaxLineBytes int
	SourceHost   string
}

func producerFlagSet(name, usage string, p *producerSettings) (*config.FlagSet, error) {
	fs, err := newFlags(name, usage, &p.settings)
	if err != nil {
		return nil, err
	}
	producerFlags(fs, &p.settings)
	fs.String(&p.Log, "log", "", "access log to follow: a path or a glob (/var/log/nginx/*access*.log); .gz files are read once")
	fs.Duration(&p.PollInterval, "poll-interval", 250*time.Millisecond, "how often files are checked for growth and rotation")
	fs.Int(&p.MaxLineBytes, "max-line-bytes", 4<<20, "longest line kept whole; longer ones are cut and logged")
	return fs, nil
}

func (p *producerSettings) config(onRead func(record.ID)) (pipeline.ProducerConfig, error) {
	d, err := p.dialer("logs-producer")
	if err != nil {
		return pipeline.ProducerConfig{}, err
	}
	if p.Log == "" {
		return pipeline.ProducerConfig{}, fmt.Errorf("--log is required: the access log to read")
	}
	if !p.Follow {
		if err := checkLogMatches(p.Log); err != nil {
			return pipeline.ProducerConfig{}, err
		}
	}
	cfg := pipeline.ProducerConfig{
		Tail: tail.Config{
			Paths: []string{p.Log}, StateDir: p.StateDir, Follow: p.Follow,
			PollInterval: p.PollInterval, MaxLineBytes: p.MaxLineBytes,
		},
		Publisher:       broker.PublisherConfig{Dialer: d, Topology: p.topology(), Window: p.Window},
		LinesPerMessage: p.LinesPerMsg,
		SourceHost:      p.SourceHost,
		ShutdownGrace:   p.ShutdownGrace,
		Logger:          slog.Default(),
	}
	cfg.OnRead = onRead
	return cfg, nil
}

func runProducer(ctx context.Context, args []string) error {
	var p producerSettings
	fs, err := producerFlagSet("logs-producer", "logs-producer --log PATH [flags]", &p)
	if err != nil {
		return err
	}
	fs.Bool(&p.Follow, "follow", true, "keep reading as the file grows (false: stop at end of file once every line is confirmed)")
	fs.String(&p.StateDir, "state-dir", ".state/producer", "where read positions (confirmed offsets) are saved")
	fs.String(&p.SourceHost, "source-host", "", "the web server's name stored with every line (default: this machine's host name)")
	maxProcsFlag(fs, &p.settings, 1)
	var hooks benchHooks
	hooks.producerFlags(fs)
	hooks.bareFlag(fs)
	if err := parse(fs, &p.settings, args); err != nil {
		return err
	}
	stopProfile, err := hooks.profile("logs-producer")
	if err != nil {
		return err
	}
	defer stopProfile()
	cfg, err := p.config(nil)
	if err != nil {
		return err
	}
	cfg.Bare = hooks.bare
	obs, err := p.serveMetrics(ctx)
	if err != nil {
		return err
	}
	obs.producer(&cfg)
	reads := trackReads(&cfg)
	prod, err := pipeline.NewProducer(cfg)
	if err != nil {
		return err
	}
	obs.producerStats(prod)
	if err := p.reachBroker(ctx, "logs-producer"); err != nil {
		return err
	}
	obs.ready(p.topology().Queues, nil)
	stopBar := backfillBar(ctx, p.Log, p.Follow, reads, prod)
	slog.Info("logs-producer starting", "log", p.Log, "exchange", p.Exchange, "amqp", config.RedactURL(p.AMQPURL), "follow", p.Follow)
	err = prod.Run(ctx)
	stopBar()
	slog.Info("logs-producer stopped", "read", prod.Stats.Read.Load(), "confirmed", prod.Stats.Confirmed.Load())
	if rerr := hooks.producerReport(prod); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func (s *settings) consumerConfig(name, queue string) (broker.ConsumerConfig, error) {
	d, err := s.dialer(name)
	if err != nil {
		return broker.ConsumerConfig{}, err
	}
	return broker.ConsumerConfig{
		Dialer: d, Topology: s.topology(), Queue: queue,
		Prefetch: s.Prefetch, BatchSize: s.BatchSize, Linger: s.Linger, Writers: s.Writers, BatchBytes: s.BatchBytes, PrefetchLines: s.PrefetchLines,
		ShutdownGrace: s.ShutdownGrace, Logger: slog.Default(),
	}, nil
}

// runConsumer is the life of a consumer process: flags, store, handler,
// consume until stopped. handler builds what stores the deliveries.
func runConsumer(ctx context.Context, args []string, name string, queue func(*settings) string,
	handler func(*settings, *store.Store, pipeline.Observer) (broker.Handler, error)) error {
	var s settings
	fs, err := newFlags(name, name+" [flags]", &s)
	if err != nil {
		return err
	}
	consumerFlags(fs, &s)
	maxProcsFlag(fs, &s, 1)
	var hooks benchHooks
	hooks.consumerFlags(fs)
	if err := parse(fs, &s, args); err != nil {
		return err
	}
	stopProfile, err := hooks.profile(name)
	if err != nil {
		return err
	}
	defer stopProfile()
	cc, err := s.consumerConfig(name, queue(&s))
	if err != nil {
		return err
	}
	obs, err := s.serveMetrics(ctx)
	if err != nil {
		return err
	}
	if err := s.reachBroker(ctx, name); err != nil {
		return err
	}
	if hooks.discard {
		return hooks.consume(ctx, cc, discardHandler{&hooks})
	}
	st, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	h, err := handler(&s, st, hooks.observe())
	if err != nil {
		return err
	}
	h = obs.consumer(name, &cc, h)
	obs.ready([]string{cc.Queue}, st)
	slog.Info(name+" starting", "queue", cc.Queue, "raw_table", s.RawTable, "clean_table", s.CleanTable, "format", s.LogFormat, "database", st.Database())
	hooks.loadCounts = st.LoadCounts
	err = hooks.consume(ctx, cc, h)
	loads, fallbacks := st.LoadCounts()
	slog.Info(name+" stopped", "load_data_batches", loads, "insert_fallbacks", fallbacks)
	return err
}

func runLake(ctx context.Context, args []string) error {
	return runConsumer(ctx, args, "data-lake-consumer", func(s *settings) string { return s.LakeQueue },
		func(_ *settings, st *store.Store, obs pipeline.Observer) (broker.Handler, error) {
			return &pipeline.Lake{Store: st, Observe: obs}, nil
		})
}

func runClean(ctx context.Context, args []string) error {
	return runConsumer(ctx, args, "data-clean-consumer", func(s *settings) string { return s.CleanQueue },
		func(s *settings, st *store.Store, obs pipeline.Observer) (broker.Handler, error) {
			return s.cleanHandler(ctx, st, obs)
		})
}

// cleanHandler resolves the log format and builds the clean handler.
func (s *settings) cleanHandler(ctx context.Context, w pipeline.CleanWriter, obs pipeline.Observer) (*pipeline.Clean, error) {
	parser, name, err := logformat.Resolve(s.LogFormat)
	if err != nil {
		return nil, fmt.Errorf("--log-format: %w", err)
	}
	formatName := func() string { return name }
	if c, ok := parser.(interface{ Chosen() string }); ok {
		formatName = c.Chosen
	}
	h := &pipeline.Clean{Store: w, Parser: parser, FormatName: formatName, Observe: obs}
	en, err := s.enricher(ctx)
	if err != nil {
		return nil, err
	}
	if en != nil {
		h.Enricher = en
	}
	return h, nil
}
