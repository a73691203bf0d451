package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/logging"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/store"
)

// settings are the flags every pipeline command shares.
type settings struct {
	config.Common
	enrichSettings
	Prefetch      int
	BatchSize     int
	Linger        time.Duration
	Writers       int
	PrefetchLines int
	BatchBytes    int
	LoadData      bool
	NoRollups     bool
	Window        int
	LogLevel      string
	LogJSON       bool
	MetricsListen string
	LinesPerMsg   int // pipeline.Auto for "auto"
	linesPerMsg   string
	ShutdownGrace time.Duration
	MaxProcs      int
}

func newFlags(name, usage string, s *settings) (*config.FlagSet, error) {
	fs, err := config.NewFlagSet(name)
	if err != nil {
		return nil, err
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: datastream %s\n\n", usage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), failuresHelp)
	}
	s.Common.Register(fs)
	fs.String(&s.LogLevel, "log-level", "info", "level of the process's own log on stderr: debug, info, warn or error")
	fs.Bool(&s.LogJSON, "log-json", false, "write the process's own log as one JSON object a line (passwords are masked in either form)")
	metricsFlag(fs, s)
	fs.Duration(&s.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long to wait for confirms/commits at exit")
	return fs, nil
}

func consumerFlags(fs *config.FlagSet, s *settings) {
	fs.Int(&s.Prefetch, "prefetch", 2000, "unacked messages a consumer holds")
	fs.Int(&s.BatchSize, "batch-size", 500, "deliveries written per transaction")
	fs.Duration(&s.Linger, "flush-interval", 10*time.Millisecond, "how long a partial batch waits for more messages (a line waits at most this long for company; a busy queue fills batches anyway)")
	fs.Int(&s.BatchBytes, "batch-bytes", 512<<10, "a batch ends early once its message bodies reach this many bytes")
	fs.Bool(&s.LoadData, "load-data", true, "write batches of 32 rows or more with LOAD DATA LOCAL INFILE from memory instead of multi-row INSERT (falls back to INSERT when the server refuses it or a load leaves warnings)")
	fs.Int(&s.PrefetchLines, "prefetch-lines", 20000, "with packed messages, keep prefetch × lines per message under this by lowering --prefetch (0: never)")
	fs.Bool(&s.NoRollups, "no-rollups", false, "clean consumer: do not keep the dashboard's rollups (to measure their cost; `datastream rollup --rebuild` fills them later)")
	fs.Int(&s.Writers, "writers", 2, "batches written to the database at once, each on its own connection (acks stay in order)")
	enrichFlags(fs, &s.enrichSettings)
}

func producerFlags(fs *config.FlagSet, s *settings) {
	fs.Int(&s.Window, "confirm-window", 1024, "messages in flight awaiting RabbitMQ's confirm (more raises latency, not throughput: see docs/performance.md)")
	fs.String(&s.linesPerMsg, "lines-per-message", "auto", "auto: lines already waiting go in one message (up to 1,000 lines or 256 KiB of one file), a line alone goes alone at once; 1: strictly one line per message; N: up to N consecutive lines, waiting 5ms for them")
}

// maxProcsFlag adds --max-procs to a component. One core is the default:
// a component's own work is small beside the broker's and the database's,
// and with one P the Go scheduler hands each delivery between goroutines
// without waking idle threads; measured, that cuts the consumers' CPU per
// message by a third and raises one-line-per-message throughput by 15%
// (docs/performance.md). More throughput comes from more processes.
func maxProcsFlag(fs *config.FlagSet, s *settings, def int) {
	fs.Int(&s.MaxProcs, "max-procs", def, "cores this process's Go code may use at once (0: all; the GOMAXPROCS variable, when set, wins)")
}

// parse parses args and checks the settings, setting up logging.
func parse(fs *config.FlagSet, s *settings, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if s.linesPerMsg != "" {
		n, err := parseLinesPerMessage(s.linesPerMsg)
		if err != nil {
			return err
		}
		s.LinesPerMsg = n
	}
	// A bad format fails at start-up, not after the database is reached.
	if _, _, err := logformat.Resolve(s.LogFormat); err != nil {
		return fmt.Errorf("--log-format: %w", err)
	}
	redact.AddURL(s.AMQPURL)
	redact.AddDSN(s.MySQLDSN)
	logger, err := logging.New(os.Stderr, logging.Options{Level: s.LogLevel, JSON: s.LogJSON}, redact)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	if s.MaxProcs > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(s.MaxProcs)
	}
	return nil
}

// parseLinesPerMessage reads --lines-per-message: "auto" or a count.
func parseLinesPerMessage(v string) (int, error) {
	if v == "auto" {
		return pipeline.Auto, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--lines-per-message: want auto or a number of lines (1 or more), not %q", v)
	}
	return n, nil
}

func (s *settings) topology() broker.Topology {
	return broker.Topology{
		Exchange:   s.Exchange,
		RoutingKey: s.RoutingKey,
		Queues:     []string{s.LakeQueue, s.CleanQueue},
		QueueType:  s.QueueType,
	}
}

func (s *settings) dialer(name string) (broker.Dialer, error) {
	tlsCfg, err := s.AMQPTLS.Config()
	if err != nil {
		return broker.Dialer{}, fmt.Errorf("AMQP TLS: %w", err)
	}
	host, _ := os.Hostname()
	return broker.Dialer{URL: s.AMQPURL, TLS: tlsCfg, Name: "datastream " + name + " on " + host}, nil
}

// openStore connects to MySQL, retrying while it is unreachable so that a
// component may start before its database.
func (s *settings) openStore(ctx context.Context) (*store.Store, error) {
	tlsCfg, err := s.MySQLTLS.Config()
	if err != nil {
		return nil, fmt.Errorf("MySQL TLS: %w", err)
	}
	var st *store.Store
	err = startupRetry(ctx, startup{
		server: "MySQL", addrKey: "dsn", addr: config.RedactDSN(s.MySQLDSN), waiting: "MySQL not ready; retrying",
		fix:   "fix the user, its password, its grants (deploy/mysql/grants.sql) or --mysql-dsn",
		fatal: func(err error) bool { return strings.Contains(err.Error(), "bad MySQL DSN") },
	}, func() (err error) {
		st, err = store.Open(ctx, store.Config{DSN: s.MySQLDSN, TLS: tlsCfg, RawTable: s.RawTable, CleanTable: s.CleanTable, LoadData: s.LoadData, NoRollups: s.NoRollups})
		return err
	})
	return st, err
}
