package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/config"
	"github.com/datastream/datastream/internal/refusal"
)

// failuresHelp is what --help says about how a component fails: the same
// words as the README's "When it stops, when it retries".
const failuresHelp = `
Exit status: 0 done, or stopped by SIGTERM/SIGINT as a service; 1 a failure
that retrying cannot heal, reported at start-up: no file matches --log (with
--once or --follow=false), RabbitMQ or MySQL refuses the credentials, the
vhost, a grant, or the database is missing and cannot be created; 2 bad flags;
130 run --once interrupted (the summary so far is printed). A server that is
down, restarting or unreachable is retried with backoff, at start-up and later.
`

// checkLogMatches fails when a run that reads to the end would find nothing:
// without following, a path matching no file is a typo, not a file to wait for.
func checkLogMatches(pattern string) error {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return fmt.Errorf("--log %q: %w", pattern, err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("--log %q: no such file (nothing matches the path)", pattern)
	}
	return nil
}

// reachBroker connects to RabbitMQ and declares the topology once before a
// component starts, so that a refusal retrying cannot heal (credentials,
// vhost, permissions) stops the process at start-up with a clear message;
// the components themselves retry every error forever. A broker that is
// down or unreachable is waited for, as the components would.
func (s *settings) reachBroker(ctx context.Context, name string) error {
	d, err := s.dialer(name)
	if err != nil {
		return err
	}
	return startupRetry(ctx, startup{
		server: "RabbitMQ", addrKey: "amqp", addr: config.RedactURL(s.AMQPURL), waiting: "RabbitMQ not reachable; retrying",
		fix: "fix the user, its password or its permissions on the vhost, or --amqp-url",
	}, func() error { return s.topology().DeclareWith(d) })
}

// startup names a server a component waits for at start-up.
type startup struct {
	server, addrKey, addr string // "MySQL", its log key and its address, credentials redacted
	waiting               string // what is logged before each wait
	fix                   string // what the user should fix when it refuses
	fatal                 func(error) bool
}

// startupRetry runs try until it succeeds, with backoff, while the server
// is down or unreachable; a refusal retrying cannot heal ends it with a
// refusal.Error naming the server and what to fix, and so does an error
// fatal says is final.
func startupRetry(ctx context.Context, sv startup, try func() error) error {
	var bo broker.Backoff
	for {
		err := try()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || sv.fatal != nil && sv.fatal(err) {
			return err
		}
		if what, ok := refusal.Permanent(err); ok {
			return &refusal.Error{Err: err, Msg: fmt.Sprintf("%s at %s %s (not retried: %s)", sv.server, sv.addr, what, sv.fix)}
		}
		wait := bo.Next()
		slog.Warn(sv.waiting, sv.addrKey, sv.addr, "err", err, "in", wait.Round(time.Millisecond))
		if !broker.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}
