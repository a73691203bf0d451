package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/bench"
	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/pipeline"
)

func init() {
	register("bench", "measure the pipeline end to end against the real services (--ceiling: beside the broker's own limit)", runBench)
}

func runBench(ctx context.Context, args []string) error {
	var c config.Common
	fs, err := config.NewFlagSet("bench")
	if err != nil {
		return err
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: datastream bench [--lines N | --log FILE] [--ceiling] [--rate R] [flags]\n\n"+
			"Runs logs-producer, data-lake-consumer and data-clean-consumer as child processes under a fresh\n"+
			"exchange, queues and database (removed afterwards) and reports rates, latency, CPU and memory.\n\n")
		fs.PrintDefaults()
	}
	c.Register(fs)
	var (
		o                 bench.Options
		ceiling, asJSON   bool
		runs              int
		prodArgs, conArgs string
		level, fromJSON   string
	)
	fs.IntVar(&o.Lines, "lines", 100000, "lines of realistic log to generate")
	fs.StringVar(&o.Log, "log", "", "replay this log instead of generating one")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated log")
	fs.Float64Var(&o.Rate, "rate", 0, "write the log at this many lines/s while the producer follows it (0: as fast as possible)")
	fs.BoolVar(&ceiling, "ceiling", false, "also run with consumers that only ack (no database): the broker's limit with Datastream's messages (ceiling) and with messages of the line alone (bare), measured back to back")
	lpm := fs.FlagSet.String("lines-per-message", "auto", "the producer's --lines-per-message (auto, 1 or N)")
	fs.IntVar(&runs, "runs", 1, "repeat each mode this many times (alternating) and report the medians")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&prodArgs, "producer-flags", "", "extra flags for logs-producer, space separated (e.g. \"--confirm-window 8192\")")
	fs.StringVar(&conArgs, "consumer-flags", "", "extra flags for both consumers, space separated (e.g. \"--prefetch 4000 --batch-size 1000\")")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "give up on a run after this long")
	var nginx bench.NginxOptions
	var withNginx bool
	fs.BoolVar(&withNginx, "nginx", false, "instead of replaying a log: nginx under wrk, the components following its log, with --lines-per-message auto and 1 side by side (nginx and wrk from scripts/test-deps.sh)")
	fs.DurationVar(&nginx.Duration, "wrk-duration", 20*time.Second, "with --nginx: how long wrk loads nginx")
	fs.IntVar(&nginx.Threads, "wrk-threads", 2, "with --nginx: wrk's threads (-t)")
	fs.IntVar(&nginx.Connections, "wrk-connections", 16, "with --nginx: wrk's connections (-c)")
	fs.BoolVar(&o.Keep, "keep", false, "leave the queues, database and files behind for inspection")
	fs.StringVar(&level, "log-level", "info", "info prints progress to stderr; warn is quiet")
	fs.StringVar(&fromJSON, "from-json", "", "print the table of a report saved with --json, without running anything")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fromJSON != "" {
		b, err := os.ReadFile(fromJSON)
		if err != nil {
			return err
		}
		var rep bench.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %w", fromJSON, err)
		}
		return bench.NewReport(rep.Runs).WriteTable(os.Stdout)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if runs < 1 {
		return fmt.Errorf("--runs must be at least 1")
	}
	if o.LinesPerMessage, err = parseLinesPerMessage(*lpm); err != nil {
		return err
	}
	o.AMQPURL, o.MySQLDSN, o.LogFormat, o.QueueType = c.AMQPURL, c.MySQLDSN, c.LogFormat, c.QueueType
	o.ProducerArgs, o.ConsumerArgs = strings.Fields(prodArgs), strings.Fields(conArgs)
	if o.Binary, err = os.Executable(); err != nil {
		return fmt.Errorf("find my own binary: %w", err)
	}
	if level != "warn" && level != "error" {
		o.Progress = os.Stderr
	} else {
		// Quiet also for the bench's own store (schema migrations).
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}

	if withNginx {
		return benchNginx(ctx, o, nginx, runs, asJSON)
	}
	in, err := bench.PrepareInput(o)
	if err != nil {
		return err
	}
	defer in.Close()
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "bench: %s: %d lines (%d fit %s), %.1f MB\n", in.Path, in.Lines, in.Parsed, o.LogFormat, float64(in.Bytes)/(1<<20))
	}

	modes := []bench.Mode{bench.Datastream}
	if ceiling {
		modes = []bench.Mode{bench.Bare, bench.Ceiling, bench.Datastream}
	}
	var results []*bench.Result
	for range runs {
		for _, m := range modes {
			r, err := bench.Run(ctx, o, in, m)
			if err != nil {
				return err
			}
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "bench: %s: %.0f lines/s end to end\n", m, r.EndToEndPerSec)
			}
			results = append(results, r)
		}
	}
	rep := bench.NewReport(results)
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(os.Stdout)
}

// benchNginx runs nginx under wrk with packing on demand and with one line
// per message, alternately, runs times each.
func benchNginx(ctx context.Context, o bench.Options, load bench.NginxOptions, runs int, asJSON bool) error {
	var results []*bench.NginxResult
	for range runs {
		for _, lpm := range []int{pipeline.Auto, 1} {
			o.LinesPerMessage = lpm
			r, err := bench.RunNginx(ctx, o, load)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	return bench.WriteNginxTable(os.Stdout, results)
}
