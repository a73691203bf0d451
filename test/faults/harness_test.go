package faults

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// ---------------------------------------------------------------- lines

// lineGen makes access-log lines: mostly combined-format requests, some that
// fit no format (they must be dead-lettered) and some exact repeats of a
// recent line (identical bytes at another offset are another line).
type lineGen struct {
	r      *rand.Rand
	n      int
	recent [][]byte
}

func newLineGen(seed uint64) *lineGen {
	return &lineGen{r: rand.New(rand.NewPCG(seed, 0x5eed))}
}

var (
	genPaths = []string{"/", "/index.html", "/api/v1/items", "/search", "/static/app.js", "/img/logo.png", "/login", "/caf\xc3\xa9"}
	genUAs   = []string{"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", "-"}
	genRefs  = []string{"-", "https://example.com/", "https://www.google.com/search?q=datastream", "http://localhost/a?b=c&d=e"}
	genJunk  = []string{"", "complete garbage that fits no access-log format", "\x00\x01\x02 binary junk \xff", "GET / HTTP/1.1", "2026/01/01 12:00:00 [error] 123#0: *1 open() failed"}
)

func (g *lineGen) next() []byte {
	g.n++
	x := g.r.IntN(100)
	var l []byte
	switch {
	case x < 4 && len(g.recent) > 0:
		l = bytes.Clone(g.recent[g.r.IntN(len(g.recent))])
	case x < 9:
		l = []byte(genJunk[g.r.IntN(len(genJunk))])
		if g.r.IntN(2) == 0 {
			l = fmt.Appendf(l, " #%d", g.n)
		}
	default:
		now := time.Now()
		l = fmt.Appendf(nil, `192.0.2.%d - %s [%s] "%s %s?n=%d HTTP/1.1" %d %d "%s" "%s"`,
			g.r.IntN(255), []string{"-", "alice", "bob@example.com"}[g.r.IntN(3)],
			now.Format("02/Jan/2006:15:04:05 -0700"),
			[]string{"GET", "GET", "POST", "HEAD"}[g.r.IntN(4)], genPaths[g.r.IntN(len(genPaths))], g.n,
			[]int{200, 200, 200, 304, 404, 500}[g.r.IntN(6)], g.r.IntN(50000),
			genRefs[g.r.IntN(len(genRefs))], genUAs[g.r.IntN(len(genUAs))])
	}
	if len(g.recent) < 16 {
		g.recent = append(g.recent, l)
	} else {
		g.recent[g.r.IntN(16)] = l
	}
	return l
}

// ---------------------------------------------------------------- writer

// pos is where a line was written: the file (its content from creation or
// truncation on: a rotated file keeps its number, a truncated one gets a new
// one), the byte offset in it, and the bytes without the newline.
type pos struct {
	file int
	off  int64
	data []byte
}

// writeMax bounds what a writer writes: it stops by itself after writeMax
// lines (30 s at 400 lines/s). The scenarios wait for every line written so
// far to land while the writer goes on; on an overloaded machine the
// pipeline falls behind and, without a bound, every wait made the next one
// longer.
const writeMax = 12000

// landWait is how long a scenario waits for lines to land before it fails
// with the counts it saw. With -race on a shared 2-core machine at load 25
// the pipeline stored as little as 150 lines a second, so 30 s of writing
// at 400 lines a second take over a minute; a stalled pipeline still fails.
const landWait = 4 * time.Minute

// logWriter appends lines to a log at a steady rate, like a web server, and
// remembers where it wrote every line. It opens the log with O_APPEND, as
// nginx does, so it writes at the end of a truncated file.
type logWriter struct {
	t    *testing.T
	path string
	rate int

	mu   sync.Mutex
	f    *os.File
	file int   // number of the file f writes to
	off  int64 // where the next line goes in it
	// since and base: the rate counts from since, when base lines were
	// written; a pause (copyTruncate) moves them, so that the writer does
	// not make up for it in a burst.
	since time.Time
	base  int
	max   int // lines it writes at most (writeMax unless a scenario sets it)
	lines []pos
	gen   *lineGen
	err   error

	stop chan struct{}
	done chan struct{}
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
}

// startWriter writes rate lines a second to path until Stop.
func startWriter(t *testing.T, path string, rate int, seed uint64) *logWriter {
	t.Helper()
	f, err := openAppend(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &logWriter{t: t, path: path, rate: rate, f: f, gen: newLineGen(seed), since: time.Now(), max: writeMax, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	t.Cleanup(func() { w.Stop() })
	return w
}

func (w *logWriter) loop() {
	defer close(w.done)
	const tick = 10 * time.Millisecond
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var buf []byte
	for {
		select {
		case <-w.stop:
			return
		case <-tk.C:
		}
		w.mu.Lock()
		want := w.base + int(time.Since(w.since).Seconds()*float64(w.rate))
		buf = buf[:0]
		n := 0
		want = min(want, w.max)
		for len(w.lines)+n < want && n < w.rate {
			l := w.gen.next()
			buf = append(append(buf, l...), '\n')
			w.lines = append(w.lines, pos{file: w.file, off: w.off, data: l})
			w.off += int64(len(l)) + 1
			n++
		}
		if n > 0 && w.err == nil {
			if _, err := w.f.Write(buf); err != nil {
				w.err = err
			}
		}
		w.mu.Unlock()
	}
}

// Stop stops writing; it is idempotent.
func (w *logWriter) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.err != nil {
		w.t.Errorf("writer: %v", w.err)
		w.err = nil
	}
}

// Written is the number of lines written so far.
func (w *logWriter) Written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// Lines are the lines written so far, with where they were written.
func (w *logWriter) Lines() []pos {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]pos(nil), w.lines...)
}

// newFile records that the writer now writes a new file from offset 0.
// Called with w.mu held.
func (w *logWriter) newFile() {
	w.file++
	w.off = 0
}

// rotateRename does what logrotate does without copytruncate: rename the
// log, then the server keeps writing to the renamed file until it is told to
// reopen (nginx -s reopen) linger later, when it creates a new log.
func (w *logWriter) rotateRename(to string, linger time.Duration) error {
	w.mu.Lock()
	err := os.Rename(w.path, to)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	time.Sleep(linger) // the writer goes on writing to the renamed file
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Close()
	}
	w.f, err = openAppend(w.path)
	w.newFile()
	return err
}

// copyTruncate does what logrotate's copytruncate does: copy the log, then
// truncate it in place; the server keeps its file descriptor. The writer is
// paused from pause before the copy until the truncate, the window in which
// a line written would be in neither file if the reader had not read it.
// copyTruncate pauses the writer, waits until readAll(n) says the n lines
// written so far have been read (or pause has passed, at least), then copies
// and truncates. logrotate cannot wait like this; lines written between the
// reader's last read and the truncate are in the copy only, an inherent race
// of copytruncate, so the test waits to check everything else exactly.
func (w *logWriter) copyTruncate(to string, pause time.Duration, readAll func(n int) bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	time.Sleep(pause)
	for deadline := time.Now().Add(landWait); !readAll(len(w.lines)); {
		if time.Now().After(deadline) {
			return fmt.Errorf("copytruncate: the %d lines written were not all stored within %s", len(w.lines), landWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		return err
	}
	if err := os.Truncate(w.path, 0); err != nil {
		return err
	}
	w.newFile()
	w.since, w.base = time.Now(), len(w.lines)
	return nil
}

// ---------------------------------------------------------------- processes

// proc is one datastream process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill9 kills the process with SIGKILL and reaps it.
func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// quit sends SIGQUIT, which makes a Go process dump its goroutines and
// exit, and kills it if it has not exited within the given time.
func (p *proc) quit(within time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(within):
		p.kill9()
	}
}

// term sends SIGTERM and waits up to within for the exit; it returns the exit
// code and how long the process took.
func (p *proc) term(within time.Duration) (code int, took time.Duration, err error) {
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, 0, err
	}
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), time.Since(start), nil
	case <-time.After(within):
		p.kill9()
		return -1, time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, within)
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// ---------------------------------------------------------------- harness

// harness is one scenario: its own exchange, queues and database, a log in a
// temp dir, proxies in front of RabbitMQ and MariaDB, and the three
// components as processes of the real binary.
type harness struct {
	t       *testing.T
	env     *testenv.Env
	st      *store.Store
	dir     string
	logPath string // the log the writer writes
	logArg  string // --log of the producer: logPath or a glob
	rabbit  *testenv.Proxy
	mysql   *testenv.Proxy
	extra   map[string][]string // more flags per role
	// dlFaults counts the faults that can repeat a dead letter: kill -9 of
	// the clean consumer, a RabbitMQ cut (see broker.DeadLetterLog).
	dlFaults int

	mu    sync.Mutex
	procs map[string]*proc
	all   []*proc
	runs  int
}

const (
	producer = "logs-producer"
	lake     = "data-lake-consumer"
	cleaner  = "data-clean-consumer"
)

var roles = []string{producer, lake, cleaner}

func newHarness(t *testing.T) *harness {
	t.Helper()
	needServices(t)
	h := baseHarness(t)
	h.rabbit = testenv.NewProxy(t, h.env.AMQPAddr())
	h.mysql = testenv.NewProxy(t, h.env.MySQLAddr())
	return h
}

// baseHarness is a harness whose components talk to the servers directly
// (the clusters' tests kill real nodes instead of cutting a proxy).
func baseHarness(t *testing.T) *harness {
	t.Helper()
	env := testenv.New(t)
	h := &harness{t: t, env: env, dir: t.TempDir(), procs: map[string]*proc{}, extra: map[string][]string{}}
	h.logPath = filepath.Join(h.dir, "access.log")
	h.logArg = h.logPath
	h.st = env.Store(t)
	// Runs before the proxies close and the env is removed (cleanups are LIFO).
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, p := range h.all {
			if p.running() {
				if t.Failed() {
					// A process still running when the test failed may be
					// the stuck one: SIGQUIT makes Go print every
					// goroutine's stack to its log before it exits.
					p.quit(5 * time.Second)
				} else {
					p.kill9()
				}
			}
		}
		if t.Failed() {
			for _, p := range h.all {
				log := p.log()
				if i := strings.Index(log, "SIGQUIT: quit"); i >= 0 {
					t.Logf("---- %s (%s), goroutines when the test failed:\n%s", p.name, filepath.Base(p.logPath), log[i:])
					log = log[:i]
				}
				t.Logf("---- %s (%s), last lines:\n%s", p.name, filepath.Base(p.logPath), tailLines(log, 25))
			}
		}
	})
	return h
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// args are the flags of a component. A role may name one of several
// instances, "data-clean-consumer/2": the part before the slash is the
// subcommand.
func (h *harness) args(role string) []string {
	cmd, _, _ := strings.Cut(role, "/")
	servers := h.env.Args()
	if h.rabbit != nil {
		servers = h.env.ArgsVia(h.rabbit.Addr(), h.mysql.Addr())
	}
	args := append([]string{cmd}, servers...)
	args = append(args, "--shutdown-grace", "5s", "--log-level", "info")
	switch cmd {
	case producer:
		args = append(args, "--log", h.logArg, "--state-dir", filepath.Join(h.dir, "state"), "--poll-interval", "100ms")
	default:
		// Small batches that linger: a kill almost always finds one in hand.
		args = append(args, "--batch-size", "100", "--prefetch", "400", "--flush-interval", "50ms")
	}
	return append(args, h.extra[role]...)
}

// start runs one component (replacing the record of an earlier one).
func (h *harness) start(role string) *proc {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs++
	p := &proc{name: role, logPath: filepath.Join(h.dir, fmt.Sprintf("%02d-%s.log", h.runs, strings.ReplaceAll(role, "/", "-"))), done: make(chan struct{})}
	f, err := os.Create(p.logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	p.cmd = exec.Command(bin, h.args(role)...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		h.t.Fatalf("start %s: %v", role, err)
	}
	go func() {
		_ = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	h.procs[role] = p
	h.all = append(h.all, p)
	return p
}

func (h *harness) startAll() {
	h.t.Helper()
	for _, r := range roles {
		h.start(r)
	}
}

// kill9 kills one component with SIGKILL and reaps it.
func (h *harness) kill9(role string) {
	if strings.HasPrefix(role, cleaner) {
		h.dlFaults++
	}
	h.proc(role).kill9()
}

func (h *harness) proc(role string) *proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.procs[role]
}

// requireRunning fails if a component exited on its own: every fault must be
// survived by retrying, not by dying.
func (h *harness) requireRunning(roles ...string) {
	h.t.Helper()
	for _, r := range roles {
		if p := h.proc(r); p != nil && !p.running() {
			h.t.Fatalf("%s exited (code %d) during the fault; it should have kept retrying:\n%s", r, p.cmd.ProcessState.ExitCode(), tailLines(p.log(), 20))
		}
	}
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flowing waits until the pipeline has stored at least n rows of both kinds.
func (h *harness) flowing(n int) {
	h.t.Helper()
	if _, err := h.waitLanded(n, landWait); err != nil {
		h.t.Fatalf("pipeline not flowing: %v", err)
	}
}
