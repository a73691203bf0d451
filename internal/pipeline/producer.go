package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/tail"
)

// ProducerConfig configures the logs-producer.
type ProducerConfig struct {
	Tail      tail.Config
	Publisher broker.PublisherConfig // OnConfirm is set by the producer
	// LinesPerMessage is how lines are packed into messages. Auto (0, the
	// default) packs the lines already waiting when a message is sent, up
	// to AutoPackLines lines or AutoPackBytes bytes of one file, and sends a
	// line that arrives alone at once; 1 keeps the contract's strict one
	// line per message; N > 1 packs up to N consecutive lines of a file,
	// waiting up to PackWait for them.
	LinesPerMessage int
	// PackWait is how long a partial pack waits for more lines (N > 1).
	PackWait time.Duration
	// Bare publishes each line as a message of its body alone: no id, no
	// time, no source (benchmarks: the most any message design reaches).
	Bare bool
	// ShutdownGrace bounds the wait for outstanding confirms at exit.
	ShutdownGrace time.Duration
	// SourceHost is the web server the lines come from; "" is this
	// machine's host name.
	SourceHost string
	// OnRead, if set, hears the id of every line read (run --once uses it).
	OnRead func(record.ID)
	// OnLine, if set, hears every line read: its file, where it ends and
	// its size (metrics: bytes read, file lag).
	OnLine func(path string, end int64, size int)
	Logger *slog.Logger
}

// Auto is the LinesPerMessage of packing on demand, and its limits: a
// packed message stays well under RabbitMQ's defaults and a consumer's
// batch (--batch-bytes).
const (
	Auto          = 0
	AutoPackLines = 1000
	AutoPackBytes = 256 << 10
)

// ProducerStats are the producer's counters.
type ProducerStats struct {
	Read      atomic.Int64 // lines read from files
	Published atomic.Int64 // messages of lines handed to the publisher
	Announced atomic.Int64 // source announcements handed to the publisher
	Confirmed atomic.Int64 // lines confirmed by RabbitMQ
	Truncated atomic.Int64 // lines cut at MaxLineBytes
	// Times in unix nanoseconds, for benchmarks: first and last line read,
	// last confirm received.
	FirstRead, LastRead, LastConfirm atomic.Int64
}

// ackRange is what a confirm settles: lines [offset, end) of a file.
type ackRange struct {
	file        tail.FileID
	offset, end int64
}

// Producer follows logs and publishes every line; the checkpoint of a file
// advances only over lines RabbitMQ has confirmed.
type Producer struct {
	cfg   ProducerConfig
	log   *slog.Logger
	Stats ProducerStats
}

// NewProducer checks the configuration.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LinesPerMessage < 0 {
		return nil, fmt.Errorf("lines per message must be 0 (auto) or more, not %d", cfg.LinesPerMessage)
	}
	if cfg.PackWait <= 0 {
		cfg.PackWait = 5 * time.Millisecond
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	cfg.Tail.Logger = cfg.Logger
	cfg.Publisher.Logger = cfg.Logger
	if cfg.Bare {
		cfg.LinesPerMessage = 1
	}
	if cfg.Publisher.Window <= 0 {
		cfg.Publisher.Window = 2048
	}
	// The window counts messages: keep the lines in flight (and the
	// memory they take) near what one line per message has. In auto mode
	// a full window is what makes the lines waiting pack; a thirty-second
	// of it (64 messages by default) still keeps tens of thousands of lines
	// in flight when they pack, and bounds what waits for confirms to
	// 64 × 256 KiB (a quarter of it held 38 MB of bodies and took the
	// producer to 148 MB of RSS).
	switch n := cfg.LinesPerMessage; {
	case n == Auto:
		cfg.Publisher.Window = max(32, cfg.Publisher.Window/32)
	case n > 1:
		cfg.Publisher.Window = max(64, 4*cfg.Publisher.Window/n)
	}
	return &Producer{cfg: cfg, log: cfg.Logger.With("component", "logs-producer")}, nil
}

// Run follows the files until ctx is cancelled (or, without Follow, until
// every line is read and confirmed). At exit it waits for outstanding
// confirms and writes the checkpoints.
func (p *Producer) Run(ctx context.Context) error {
	t, err := tail.New(p.cfg.Tail)
	if err != nil {
		return err
	}
	pcfg := p.cfg.Publisher
	pcfg.OnConfirm = func(token any) {
		acks, _ := token.([]ackRange) // nil for a source announcement
		for _, a := range acks {
			t.Ack(a.file, a.offset, a.end)
		}
		p.Stats.Confirmed.Add(int64(len(acks)))
		p.Stats.LastConfirm.Store(time.Now().UnixNano())
	}
	pub := broker.NewPublisher(pcfg)

	lines := make(chan tail.Line, 4*max(p.packLines(), 256))
	tailErr := make(chan error, 1)
	go func() {
		defer close(lines)
		tailErr <- t.Run(ctx, lines)
	}()

	// A line read is published even if shutdown begins meanwhile (its
	// context ends ShutdownGrace after ctx), so that every line counted as
	// read is confirmed and checkpointed at a graceful exit.
	pctx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(p.cfg.ShutdownGrace, cancelPub) })
	defer stopGrace()

	host := p.cfg.SourceHost
	if host == "" {
		host, _ = os.Hostname()
	}
	err = p.publishLoop(ctx, pctx, host, lines, pub)
	// Drain the tailer so its goroutine can exit.
	for range lines {
	}
	if terr := <-tailErr; terr != nil && !errors.Is(terr, context.Canceled) && err == nil {
		err = fmt.Errorf("tail: %w", terr)
	}

	// Stop reading first, then wait for confirms, then save where we are.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.ShutdownGrace)
	defer cancel()
	if ctx.Err() == nil && err == nil {
		// Reading finished on its own (--follow=false): every line must be
		// confirmed, however long the broker takes.
		wctx = ctx
	}
	if cerr := pub.Close(wctx); cerr != nil {
		p.log.Warn("exiting with unconfirmed messages; they will be sent again on restart", "err", cerr)
	}
	if ferr := t.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// packLines is the most lines a message holds.
func (p *Producer) packLines() int {
	if p.cfg.LinesPerMessage == Auto {
		return AutoPackLines
	}
	return p.cfg.LinesPerMessage
}

// publishLoop reads lines until ctx ends and publishes them with pctx.
func (p *Producer) publishLoop(ctx, pctx context.Context, host string, lines <-chan tail.Line, pub *broker.Publisher) error {
	n, auto := p.packLines(), p.cfg.LinesPerMessage == Auto
	pack := make([]record.Line, 0, n)
	acks := make([]ackRange, 0, n)
	packBytes := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// announced holds, per file, the publisher's reconnect count when its
	// source was last announced: a new connection announces again, in
	// case the queues were declared anew in between.
	announced := map[tail.FileID]int64{}

	flush := func() error {
		if len(pack) == 0 {
			return nil
		}
		var msg amqp.Publishing
		if p.cfg.Bare {
			msg = amqp.Publishing{DeliveryMode: amqp.Persistent, Body: pack[0].Data}
		} else if len(pack) == 1 {
			msg = broker.EncodeLine(&pack[0])
		} else {
			msg = broker.EncodeLines(pack)
		}
		token := append([]ackRange(nil), acks...)
		pack, acks, packBytes = pack[:0], acks[:0], 0
		p.Stats.Published.Add(1)
		return pub.Publish(pctx, msg, token)
	}

	announce := func(l *tail.Line) error {
		gen := pub.Reconnects()
		if g, ok := announced[l.File]; p.cfg.Bare || ok && g == gen {
			return nil
		}
		announced[l.File] = gen
		p.Stats.Announced.Add(1)
		return pub.Publish(pctx, broker.EncodeSource(record.Source{File: l.File, Host: host, Path: l.Path}, time.Now()), nil)
	}

	add := func(l tail.Line) error {
		p.Stats.Read.Add(1)
		if l.Truncated {
			p.Stats.Truncated.Add(1)
			p.log.Warn("line longer than the maximum; sending its first bytes", "path", l.Path, "offset", l.Offset, "kept", len(l.Data))
		}
		if err := announce(&l); err != nil {
			return err
		}
		now := time.Now()
		p.Stats.FirstRead.CompareAndSwap(0, now.UnixNano())
		p.Stats.LastRead.Store(now.UnixNano())
		r := record.Line{ID: record.ID(l.ID()), SourceHost: host, SourcePath: l.Path, ReceivedAt: now.UTC(), Data: l.Data}
		if p.cfg.OnRead != nil {
			p.cfg.OnRead(r.ID)
		}
		if p.cfg.OnLine != nil {
			p.cfg.OnLine(l.Path, l.End(), len(l.Data))
		}
		if len(pack) > 0 && (!broker.Contiguous(&pack[len(pack)-1], &r) || auto && packBytes+len(r.Data)+1 > AutoPackBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		pack = append(pack, r)
		packBytes += len(r.Data) + 1
		acks = append(acks, ackRange{file: l.File, offset: l.Offset, end: l.End()})
		if len(pack) >= n {
			return flush()
		}
		return nil
	}

	// stop ends the loop at shutdown: the lines of the pack are read, so
	// they are published too.
	stop := func() error {
		if err := flush(); err != nil {
			return err
		}
		return ctx.Err()
	}
	for {
		var l tail.Line
		var ok bool
		switch {
		case len(pack) == 0:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case l, ok = <-lines:
			}
		case auto:
			// Take what is already waiting; send the pack as soon as
			// nothing is.
			select {
			case <-ctx.Done():
				return stop()
			case l, ok = <-lines:
			default:
				if err := flush(); err != nil {
					return err
				}
				continue
			}
		default:
			select {
			case <-ctx.Done():
				return stop()
			case l, ok = <-lines:
			case <-timer.C:
				if err := flush(); err != nil {
					return err
				}
				continue
			}
		}
		if !ok {
			return flush()
		}
		wasEmpty := len(pack) == 0
		if err := add(l); err != nil {
			return err
		}
		if wasEmpty && len(pack) > 0 && !auto {
			timer.Reset(p.cfg.PackWait)
		}
	}
}
