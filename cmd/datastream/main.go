// Command datastream analyses web-server access logs in real time: a producer
// follows the log into RabbitMQ, two consumers store every line raw and
// parsed in MySQL/MariaDB. Each component is a subcommand so that it can run
// as its own process and be scaled on its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"

	"github.com/datastream/datastream/internal/logging"
)

// command is one subcommand. Files in this package register theirs from init.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) error) {
	if _, dup := commands[name]; dup {
		panic("datastream: command registered twice: " + name)
	}
	commands[name] = command{name: name, summary: summary, run: run}
}

func usage() {
	fmt.Fprintf(os.Stderr, "Usage: datastream <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-22s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'datastream <command> --help' for the flags of a command.\n")
}

func main() {
	os.Exit(Main(os.Args[1:]))
}

// Main runs one subcommand and returns the process exit code.
func Main(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "datastream: unknown command %q\n\n", args[0])
		usage()
		return 2
	}

	tuneGC(os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), cmd.name)

	// The first SIGINT/SIGTERM cancels the context so components drain and
	// flush; a second one exits at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		slog.Info("shutting down", "signal", s.String())
		cancel()
		<-sigs
		slog.Warn("second signal: exiting now")
		os.Exit(130)
	}()

	err := cmd.run(ctx, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(os.Stderr, "datastream %s: %s\n", cmd.name, redact.String(err.Error()))
		return 130
	case ctx.Err() != nil:
		// SIGTERM/SIGINT before start-up finished (waiting for a server,
		// migrating): a service asked to stop has stopped.
		slog.Info("stopped while starting", "err", redact.String(err.Error()))
		return 0
	default:
		fmt.Fprintf(os.Stderr, "datastream %s: %s\n", cmd.name, redact.String(err.Error()))
		return 1
	}
}

// gcPercent is the garbage collector's target when GOGC is not set. The
// components keep a few megabytes live and allocate per message, so at
// Go's default of 100 they collect many times a second; 200 takes 4-9% off
// each component's CPU for a few MB (docs/performance.md, "Go's GC
// target"). The clean consumer keeps 30-35 MB live (enrichment's tables
// and caches, rollups in flight), up to 50 in bursts, so at 200 alone it
// peaked at 130-215 MB, past the 100 MB per component we hold to: it also
// gets a soft limit of cleanMemLimit unless GOMEMLIMIT is set, and
// collects sooner only as it nears it (docs/performance.md, "Memory").
const (
	gcPercent     = 200
	cleanMemLimit = 80 << 20
)

// tuneGC sets the GC target and, for the clean consumer, the memory
// limit, each unless the user chose their own (GOGC, GOMEMLIMIT).
func tuneGC(gogc, memLimit, command string) {
	if gogc == "" {
		debug.SetGCPercent(gcPercent)
	}
	if memLimit == "" && command == "data-clean-consumer" {
		debug.SetMemoryLimit(cleanMemLimit)
	}
}

// redact masks the passwords the process was given (set by parse) in its
// log and in the error it exits with.
var redact = &logging.Redactor{}

// errInterrupted ends a run that a signal stopped before it finished
// (exit status 130, as a shell reports a Ctrl-C).
var errInterrupted = errors.New("interrupted")

// errUsage marks an error already explained to the user by the flag package.
var errUsage = errors.New("usage error")
