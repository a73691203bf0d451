// Package bench measures Datastream end to end against the real RabbitMQ
// and MySQL/MariaDB: it replays a log through the producer and both
// consumers, each a child process of the datastream binary so that its CPU
// time and peak memory are its own, under a fresh exchange, queues and
// database that it removes afterwards. In ceiling mode the consumers only
// ack, which measures what the broker alone carries with the same topology.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/store"
)

// Options configure a benchmark.
type Options struct {
	Binary    string // the datastream binary (os.Executable())
	AMQPURL   string
	MySQLDSN  string // the server; the database name is replaced by the bench's own
	Lines     int    // lines to generate when Log is empty
	Log       string // replay this file instead
	Seed      int64
	LogFormat string
	QueueType string // classic or quorum
	// Rate > 0 writes the log at this many lines per second while the
	// producer follows it; 0 replays a finished file as fast as possible.
	Rate float64
	// LinesPerMessage is the producer's flag: 0 auto, 1 strict, N > 1.
	LinesPerMessage int
	// ProducerArgs and ConsumerArgs are extra flags for the children.
	ProducerArgs, ConsumerArgs []string
	Timeout                    time.Duration
	TempDir                    string
	Keep                       bool      // leave queues, database and files behind
	Progress                   io.Writer // nil: quiet
}

// Mode is what the consumers do.
type Mode string

const (
	// Ceiling consumers ack without storing anything.
	Ceiling Mode = "ceiling"
	// Bare is the ceiling with messages of the line alone (persistent,
	// confirmed, acked by hand, but no id, time or source): what the
	// broker carries with any message design.
	Bare Mode = "bare"
	// Datastream is the real pipeline.
	Datastream Mode = "datastream"
)

// ChildReport is what a child writes at exit with --bench-report: lines
// handled and times in unix nanoseconds.
type ChildReport struct {
	Lines     int64 `json:"lines"`
	Confirmed int64 `json:"confirmed,omitempty"`
	First     int64 `json:"first"`
	LastRead  int64 `json:"last_read,omitempty"`
	Last      int64 `json:"last"`
	LoadStats
}

// LoadStats are a consumer's batches acked and, of those, how many LOAD
// DATA wrote and how many it handed to INSERT (the load left warnings).
type LoadStats struct {
	Batches   int64 `json:"batches,omitempty"`
	Loads     int64 `json:"loads,omitempty"`
	Fallbacks int64 `json:"fallbacks,omitempty"`
}

// Latency summarises line-to-row latencies in milliseconds.
type Latency struct {
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	Samples int     `json:"samples"`
}

// Component is the resource use of one child process.
type Component struct {
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpu_seconds"`
	UserSecs   float64 `json:"user_seconds"`
	SysSecs    float64 `json:"system_seconds"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	// RSS sampled at half time and just before the end: flat memory means
	// the two are close.
	HalfRSSMB float64 `json:"half_rss_mb"`
	EndRSSMB  float64 `json:"end_rss_mb"`
	LoadStats         // consumers only
}

// Result is one benchmark run.
type Result struct {
	Mode            Mode    `json:"mode"`
	Lines           int64   `json:"lines"`
	Bytes           int64   `json:"bytes"`
	LinesPerMessage int     `json:"lines_per_message"`
	QueueType       string  `json:"queue_type"`
	Rate            float64 `json:"rate,omitempty"`
	// Seconds from the first line read to the last batch acked by both
	// consumers (after its commit).
	Seconds         float64 `json:"seconds"`
	ReadPerSec      float64 `json:"read_lines_per_sec"`
	ConfirmedPerSec float64 `json:"confirmed_lines_per_sec"`
	LakePerSec      float64 `json:"lake_rows_per_sec"`
	CleanPerSec     float64 `json:"clean_rows_per_sec"`
	EndToEndPerSec  float64 `json:"end_to_end_lines_per_sec"`
	RawRows         int64   `json:"raw_rows"`
	CleanRows       int64   `json:"clean_rows"`
	ExpectedClean   int64   `json:"expected_clean_rows"`
	// Latency from a line read to both its rows written; LakeLatency and
	// CleanLatency per table. Datastream mode only.
	Latency      *Latency    `json:"latency,omitempty"`
	LakeLatency  *Latency    `json:"lake_latency,omitempty"`
	CleanLatency *Latency    `json:"clean_latency,omitempty"`
	Components   []Component `json:"components"`
	// Servers is the CPU of RabbitMQ and MariaDB when they run on this
	// machine (see serverMeter).
	Servers []ServerCPU `json:"servers,omitempty"`
	Args    []string    `json:"args,omitempty"`
}

func (o *Options) defaults() {
	if o.QueueType == "" {
		o.QueueType = "classic"
	}
	if o.LogFormat == "" {
		o.LogFormat = "combined"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
}

// LinesPerMessageFlag is the producer's --lines-per-message for n.
func LinesPerMessageFlag(n int) string {
	if n <= 0 {
		return "auto"
	}
	return strconv.Itoa(n)
}

func (o *Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "bench: "+format+"\n", args...)
	}
}

// names are one run's exchange, queues and database.
type names struct {
	exchange, lake, clean, database string
	dsn                             string
}

func newNames(server string) (names, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		return names{}, fmt.Errorf("MySQL DSN: %w", err)
	}
	cfg.DBName = "dsbench_" + id
	return names{
		exchange: "bench." + id, lake: "bench." + id + ".lake", clean: "bench." + id + ".clean",
		database: cfg.DBName, dsn: cfg.FormatDSN(),
	}, nil
}

// stage is one run's own exchange, queues, database and directory, and
// the flags that point every child at them.
type stage struct {
	names
	dir    string
	topo   broker.Topology
	dialer broker.Dialer
	st     *store.Store // nil without a database
	common []string
}

// newStage makes a run's stage; with db its database and schema too.
func newStage(ctx context.Context, o *Options, db bool) (_ *stage, err error) {
	n, err := newNames(o.MySQLDSN)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.TempDir, "datastream-bench-run")
	if err != nil {
		return nil, err
	}
	s := &stage{
		names: n, dir: dir,
		topo:   broker.Topology{Exchange: n.exchange, RoutingKey: "logs", Queues: []string{n.lake, n.clean}, QueueType: o.QueueType},
		dialer: broker.Dialer{URL: o.AMQPURL, Name: "datastream bench"},
		common: []string{
			"--amqp-url", o.AMQPURL, "--mysql-dsn", n.dsn, "--exchange", n.exchange, "--routing-key", "logs",
			"--lake-queue", n.lake, "--clean-queue", n.clean, "--raw-table", "raw_log", "--clean-table", "clean_log",
			"--queue-type", o.QueueType, "--log-format", o.LogFormat, "--log-level", "warn",
		},
	}
	defer func() {
		if err != nil {
			_ = s.close(o)
		}
	}()
	if db {
		if s.st, err = store.Open(ctx, store.Config{DSN: n.dsn, RawTable: "raw_log", CleanTable: "clean_log"}); err != nil {
			return nil, err
		}
	}
	return s, s.topo.DeclareWith(s.dialer)
}

// close removes what the stage made, unless o.Keep.
func (s *stage) close(o *Options) error {
	if s.st != nil {
		s.st.Close()
	}
	if o.Keep {
		o.progress("keeping %s, exchange %s, database %s", s.dir, s.exchange, s.database)
		return nil
	}
	err := cleanup(s.dialer, s.topo, o.MySQLDSN, s.database)
	os.RemoveAll(s.dir)
	return err
}

// Run replays in once in the given mode.
func Run(ctx context.Context, o Options, in *Input, mode Mode) (res *Result, err error) {
	o.defaults()
	if mode == Bare {
		o.LinesPerMessage = 1 // a bare message is one line
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	sg, err := newStage(ctx, &o, mode == Datastream)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := sg.close(&o); err == nil {
			err = cerr
		}
	}()
	dir, st, dialer, n, common := sg.dir, sg.st, sg.dialer, sg.names, sg.common
	consumerArgs := func(name string) []string {
		a := append([]string{name}, common...)
		a = append(a, "--exit-after-lines", strconv.FormatInt(in.Lines, 10), "--bench-report", filepath.Join(dir, name+".json"))
		if mode != Datastream {
			a = append(a, "--discard")
		}
		return append(a, o.ConsumerArgs...)
	}
	logPath := in.Path
	follow := "false"
	if o.Rate > 0 {
		logPath = filepath.Join(dir, "access.log")
		if err := os.WriteFile(logPath, nil, 0o644); err != nil {
			return nil, err
		}
		follow = "true"
	}
	producerArgs := append([]string{"logs-producer"}, common...)
	producerArgs = append(producerArgs, "--log", logPath, "--follow="+follow, "--state-dir", filepath.Join(dir, "state"),
		"--lines-per-message", LinesPerMessageFlag(o.LinesPerMessage), "--bench-report", filepath.Join(dir, "logs-producer.json"))
	producerArgs = append(producerArgs, o.ProducerArgs...)
	if mode == Bare {
		// Last, so it wins over a --lines-per-message in ProducerArgs.
		producerArgs = append(producerArgs, "--bare", "--lines-per-message", "1")
	}

	lake, err := start(ctx, o.Binary, dir, consumerArgs("data-lake-consumer"))
	if err != nil {
		return nil, err
	}
	defer lake.kill()
	clean, err := start(ctx, o.Binary, dir, consumerArgs("data-clean-consumer"))
	if err != nil {
		return nil, err
	}
	defer clean.kill()
	if err := waitConsumers(ctx, dialer, []string{n.lake, n.clean}, lake, clean); err != nil {
		return nil, err
	}
	o.progress("%s: %d lines, consumers ready, starting the producer", mode, in.Lines)
	servers := startServers(o.AMQPURL, o.MySQLDSN)
	prod, err := start(ctx, o.Binary, dir, producerArgs)
	if err != nil {
		return nil, err
	}
	defer prod.kill()

	writeErr := make(chan error, 1)
	if o.Rate > 0 {
		go func() { writeErr <- writeAtRate(ctx, in.Path, logPath, o.Rate) }()
	} else {
		writeErr <- nil
	}

	// Consumers exit once they have handled every line.
	t0 := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	// A channel that fired is set to nil: a closed one would make this a
	// busy loop that takes a core from the run it measures.
	prodDone, lakeDone, cleanDone := prod.done, lake.done, clean.done
	for lakeDone != nil || cleanDone != nil {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s run did not finish: %w%s", mode, ctx.Err(), lake.tail()+clean.tail()+prod.tail())
		case <-lakeDone:
			if lake.err() != nil {
				return nil, fmt.Errorf("data-lake-consumer: %v%s", lake.err(), lake.tail())
			}
			lakeDone = nil
		case <-cleanDone:
			if clean.err() != nil {
				return nil, fmt.Errorf("data-clean-consumer: %v%s", clean.err(), clean.tail())
			}
			cleanDone = nil
		case <-prodDone:
			if prod.err() != nil {
				return nil, fmt.Errorf("logs-producer: %v%s", prod.err(), prod.tail())
			}
			prodDone = nil
		case <-tick.C:
			o.progress("%s: running for %s", mode, time.Since(t0).Round(time.Second))
		}
	}
	serverCPU := servers.stop(in.Lines)
	if werr := <-writeErr; werr != nil {
		return nil, fmt.Errorf("write log at rate: %w", werr)
	}
	if o.Rate > 0 {
		_ = prod.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-prod.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("producer did not exit: %w", ctx.Err())
	case <-time.After(time.Minute):
		return nil, fmt.Errorf("producer did not exit%s", prod.tail())
	}
	if prod.err() != nil {
		return nil, fmt.Errorf("logs-producer: %v%s", prod.err(), prod.tail())
	}

	res = &Result{
		Mode: mode, Lines: in.Lines, Bytes: in.Bytes, LinesPerMessage: o.LinesPerMessage, QueueType: o.QueueType,
		Rate: o.Rate, ExpectedClean: in.Parsed, Servers: serverCPU,
	}
	var pr, lr, cr ChildReport
	for _, r := range []struct {
		name string
		dst  *ChildReport
	}{{"logs-producer", &pr}, {"data-lake-consumer", &lr}, {"data-clean-consumer", &cr}} {
		b, err := os.ReadFile(filepath.Join(dir, r.name+".json"))
		if err != nil {
			return nil, fmt.Errorf("%s wrote no report: %w", r.name, err)
		}
		if err := json.Unmarshal(b, r.dst); err != nil {
			return nil, fmt.Errorf("%s report: %w", r.name, err)
		}
	}
	if pr.Lines != in.Lines || pr.Confirmed != in.Lines {
		return nil, fmt.Errorf("producer read %d lines and had %d confirmed, want %d", pr.Lines, pr.Confirmed, in.Lines)
	}
	start := time.Unix(0, pr.First)
	secs := func(end int64) float64 { return time.Unix(0, end).Sub(start).Seconds() }
	perSec := func(lines int64, end int64) float64 {
		if s := secs(end); s > 0 {
			return float64(lines) / s
		}
		return 0
	}
	res.ReadPerSec = perSec(in.Lines, pr.LastRead)
	res.ConfirmedPerSec = perSec(in.Lines, pr.Last)
	res.LakePerSec = perSec(in.Lines, lr.Last)
	res.CleanPerSec = perSec(in.Lines, cr.Last)
	end := max(lr.Last, cr.Last)
	res.Seconds = secs(end)
	res.EndToEndPerSec = perSec(in.Lines, end)
	for _, c := range []*child{prod, lake, clean} {
		res.Components = append(res.Components, c.usage())
	}
	res.Components[1].LoadStats, res.Components[2].LoadStats = lr.LoadStats, cr.LoadStats
	res.Args = append(append([]string{}, o.ProducerArgs...), o.ConsumerArgs...)

	if mode == Datastream {
		if res.RawRows, res.CleanRows, err = st.Count(ctx); err != nil {
			return nil, err
		}
		if res.RawRows != in.Lines || res.CleanRows != in.Parsed {
			return res, fmt.Errorf("tables hold %d raw and %d clean rows, want %d and %d", res.RawRows, res.CleanRows, in.Lines, in.Parsed)
		}
		if err := latencies(ctx, st.DB, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// cleanup deletes the stage's topology and database; the database is
// dropped whether or not the stage opened it (a failed migration leaves
// one behind; the ceiling runs make none).
func cleanup(d broker.Dialer, t broker.Topology, server, database string) error {
	var errs []error
	if conn, ch, err := d.Channel(); err != nil {
		errs = append(errs, err)
	} else {
		if err := t.Delete(ch); err != nil {
			errs = append(errs, err)
		}
		conn.Close()
	}
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		return err
	}
	cfg.DBName = ""
	sconn, err := store.Connector(cfg)
	if err == nil {
		sdb := sql.OpenDB(sconn)
		_, err = sdb.Exec("DROP DATABASE IF EXISTS " + store.QuoteIdent(database))
		sdb.Close()
	}
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitConsumers waits until every queue has a consumer.
func waitConsumers(ctx context.Context, d broker.Dialer, queues []string, kids ...*child) error {
	conn, ch, err := d.Channel()
	if err != nil {
		return err
	}
	defer conn.Close()
	return pollKids(ctx, time.Minute, 50*time.Millisecond, kids, func() (bool, error) {
		for _, q := range queues {
			st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			if err != nil {
				return false, fmt.Errorf("inspect queue %s: %w", q, err)
			}
			if st.Consumers == 0 {
				return false, nil
			}
		}
		return true, nil
	}, func() error { return errors.New("consumers did not start within a minute") })
}

// pollKids calls done every period until it says so or fails; a child
// that exits meanwhile, or limit passing (late's error), ends it too.
func pollKids(ctx context.Context, limit, period time.Duration, kids []*child, done func() (bool, error), late func() error) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		for _, k := range kids {
			if k.exited() {
				return fmt.Errorf("%s exited early: %v%s", k.name, k.err(), k.tail())
			}
		}
		if time.Now().After(deadline) {
			return late()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(period):
		}
	}
}

// writeAtRate copies src to dst at rate lines per second, in small bursts.
func writeAtRate(ctx context.Context, src, dst string, rate float64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	r := bufio.NewReaderSize(in, 1<<20)
	var buf []byte
	written := 0
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		target := int(time.Since(start).Seconds() * rate)
		buf = buf[:0]
		for ; written < target; written++ {
			line, err := r.ReadBytes('\n')
			buf = append(buf, line...)
			if err == io.EOF {
				if len(buf) > 0 {
					if _, err := out.Write(buf); err != nil {
						return err
					}
				}
				return nil
			}
			if err != nil {
				return err
			}
		}
		if len(buf) > 0 {
			if _, err := out.Write(buf); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// latencies reads received_at and stored_at of every row.
func latencies(ctx context.Context, db *sql.DB, res *Result) error {
	rows, err := db.QueryContext(ctx, `SELECT TIMESTAMPDIFF(MICROSECOND, r.received_at, r.stored_at),
		TIMESTAMPDIFF(MICROSECOND, c.received_at, c.stored_at)
		FROM raw_log r LEFT JOIN clean_log c ON c.id = r.id`)
	if err != nil {
		return fmt.Errorf("read latencies: %w", err)
	}
	defer rows.Close()
	var both, lake, clean []int64
	for rows.Next() {
		var l int64
		var c sql.NullInt64
		if err := rows.Scan(&l, &c); err != nil {
			return err
		}
		lake = append(lake, l)
		b := l
		if c.Valid {
			clean = append(clean, c.Int64)
			b = max(b, c.Int64)
		}
		both = append(both, b)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	res.Latency, res.LakeLatency, res.CleanLatency = summarise(both), summarise(lake), summarise(clean)
	return nil
}

func summarise(us []int64) *Latency {
	if len(us) == 0 {
		return nil
	}
	sort.Slice(us, func(i, j int) bool { return us[i] < us[j] })
	q := func(p float64) float64 {
		i := int(p * float64(len(us)-1))
		return float64(us[i]) / 1000
	}
	return &Latency{P50: q(0.50), P99: q(0.99), Max: float64(us[len(us)-1]) / 1000, Samples: len(us)}
}

// child is one datastream process.
type child struct {
	name    string
	cmd     *exec.Cmd
	stderr  *bytes.Buffer
	done    chan struct{}
	started time.Time
	waitErr error

	mu      sync.Mutex
	samples []rssSample
}

type rssSample struct {
	at       time.Duration
	rss, hwm int64 // VmRSS and VmHWM, bytes
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func start(ctx context.Context, bin, dir string, args []string) (*child, error) {
	c := &child{name: args[0], stderr: &bytes.Buffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Dir = dir
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = &lockedBuffer{b: c.stderr}
	// The bench's environment must not rename what the flags name.
	c.cmd.Env = append(os.Environ(), "DATASTREAM_ENV_FILE="+filepath.Join(dir, "no.env"))
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.name, err)
	}
	c.started = time.Now()
	go c.sample(ctx)
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// sample reads the child's resident memory every 100 ms.
func (c *child) sample(ctx context.Context) {
	path := fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			if rss := vmField(b, "VmRSS:"); rss > 0 {
				c.mu.Lock()
				c.samples = append(c.samples, rssSample{at: time.Since(c.started), rss: rss, hwm: vmField(b, "VmHWM:")})
				c.mu.Unlock()
			}
		}
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// vmField reads a size field of /proc/PID/status (VmRSS:, VmHWM:) in bytes.
func vmField(status []byte, name string) int64 {
	for _, line := range bytes.Split(status, []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(line, []byte(name)); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) err() error {
	if !c.exited() {
		return nil
	}
	return c.waitErr
}

func (c *child) kill() {
	if !c.exited() {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *child) tail() string {
	s := c.stderr.String()
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	if s == "" {
		return ""
	}
	return "\n" + c.name + " stderr:\n" + s
}

// usage is the child's CPU time and memory from wait4's rusage and the
// samples of /proc.
func (c *child) usage() Component {
	comp := Component{Name: c.name}
	if ps := c.cmd.ProcessState; ps != nil {
		comp.UserSecs = ps.UserTime().Seconds()
		comp.SysSecs = ps.SystemTime().Seconds()
		comp.CPUSeconds = comp.UserSecs + comp.SysSecs
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			// ru_maxrss also counts the parent's pages shared until exec,
			// so it is only a fallback for VmHWM below.
			comp.PeakRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.samples); n > 0 {
		// VmHWM is the peak of the process's own memory; sampled every
		// 100 ms, the last sample is within 100 ms of the exit.
		peak := int64(0)
		for _, s := range c.samples {
			peak = max(peak, s.hwm, s.rss)
		}
		comp.PeakRSSMB = float64(peak) / (1 << 20)
		total := c.samples[n-1].at
		for _, s := range c.samples {
			if s.at >= total/2 {
				comp.HalfRSSMB = float64(s.rss) / (1 << 20)
				break
			}
		}
		comp.EndRSSMB = float64(c.samples[n-1].rss) / (1 << 20)
	}
	return comp
}
