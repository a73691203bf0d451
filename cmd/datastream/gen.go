package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/datastream/datastream/internal/loggen"
)

func init() {
	register("gen", "write a realistic, reproducible nginx access log (--rate: a steady live writer)", func(ctx context.Context, args []string) error {
		return runGen(ctx, args, os.Stdout, os.Stderr)
	})
}

// runGen is the gen subcommand with its streams passed in, for tests.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lines := fs.Int64("lines", 1000, "number of lines (with --rate and no --lines: unlimited, until interrupted)")
	seed := fs.Int64("seed", 1, "random seed: the same seed and flags give the same log")
	format := fs.String("log-format", "combined", "a preset name or a log_format body (escape=json '...' accepted)")
	outName := fs.String("out", "-", "output file (- for stdout)")
	appendOut := fs.Bool("append", false, "append to --out instead of truncating it")
	rate := fs.Float64("rate", 0, "lines per second (0: as fast as possible); each line is flushed as written")
	startStr := fs.String("start", "", "time of the first request, RFC 3339 (default 2026-01-01T00:00:00 in a seed-chosen zone; with --rate: now)")
	step := fs.Duration("step", 0, "mean time between requests (default 10ms; with --rate: 1s/rate)")
	hostile := fs.Float64("hostile", 0.01, "share of hostile or garbage requests (0 for none)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: datastream gen [--lines N] [--seed S] [--log-format F] [--out FILE] [--append] [--rate R] [--start RFC3339]\n\n"+
			"Writes a realistic, seeded nginx access log: Zipf-distributed clients (IPv4\n"+
			"and IPv6), browsers, bots, tools and scanners, a small share of hostile\n"+
			"requests, rendered through any log format with nginx's escaping.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	bad := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "datastream gen: "+format+"\n", a...)
		return errUsage
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected arguments %q", fs.Args())
	case *rate < 0:
		return bad("--rate must not be negative")
	case *hostile < 0 || *hostile > 1:
		return bad("--hostile must be between 0 and 1")
	case *lines < 0:
		return bad("--lines must not be negative")
	case *appendOut && *outName == "-":
		return bad("--append needs --out FILE")
	}
	linesSet := false
	fs.Visit(func(f *flag.Flag) { linesSet = linesSet || f.Name == "lines" })
	if *rate > 0 && !linesSet {
		*lines = -1 // until interrupted
	}
	opts := loggen.Options{Seed: *seed, Format: *format, Step: *step, Hostile: *hostile}
	if *hostile == 0 {
		opts.Hostile = -1
	}
	if *startStr != "" {
		t, err := time.Parse(time.RFC3339, *startStr)
		if err != nil {
			return bad("--start: %v", err)
		}
		opts.Start, opts.Zone = t, t.Location()
	} else if *rate > 0 {
		opts.Start = time.Now()
		opts.Zone = time.Local
	}
	if *rate > 0 && *step == 0 {
		opts.Step = time.Duration(float64(time.Second) / *rate)
	}
	g, err := loggen.New(opts)
	if err != nil {
		return bad("%v", err)
	}

	var w io.Writer = stdout
	if *outName != "-" {
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if *appendOut {
			flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		f, err := os.OpenFile(*outName, flags, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var genErr error
	if *rate > 0 {
		genErr = genPaced(ctx, g, bw, *lines, *rate)
	} else {
		genErr = genFast(ctx, g, bw, *lines)
	}
	if err := bw.Flush(); err != nil && genErr == nil {
		genErr = err
	}
	if f, ok := w.(*os.File); ok && *outName != "-" {
		if err := f.Close(); err != nil && genErr == nil {
			genErr = err
		}
	}
	return genErr
}

// genFast writes n lines as fast as possible.
func genFast(ctx context.Context, g *loggen.Gen, bw *bufio.Writer, n int64) error {
	var line []byte
	for i := int64(0); i < n; i++ {
		if i&0xfff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line = g.AppendNext(line[:0])
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// genPaced writes lines at rate per second until n are written (n < 0:
// until ctx is cancelled, which then is a normal end). Whole lines are
// flushed as soon as they are due, so a follower never sees half a line
// waiting in a buffer.
func genPaced(ctx context.Context, g *loggen.Gen, bw *bufio.Writer, n int64, rate float64) error {
	start := time.Now()
	var written int64
	var line []byte
	for n < 0 || written < n {
		due := int64(time.Since(start).Seconds()*rate) + 1
		if n >= 0 {
			due = min(due, n)
		}
		for ; written < due; written++ {
			line = g.AppendNext(line[:0])
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if n >= 0 && written >= n {
			break
		}
		// Sleep until the next line is due (at least a millisecond, so high
		// rates are written in small batches).
		next := start.Add(time.Duration(float64(written) / rate * float64(time.Second)))
		wait := max(time.Until(next), time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}
