package tail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

// harness runs a Tailer in the background and collects its lines.
type harness struct {
	t      *testing.T
	tl     *Tailer
	out    chan Line
	cancel context.CancelFunc
	done   chan error

	mu    sync.Mutex
	lines []Line
	got   chan struct{} // poked on every line
	ack   bool
}

// withLog points cfg's logger at a buffer that is printed if t fails.
func withLog(t *testing.T, cfg Config) Config {
	buf := &testenv.SyncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tailer log:\n%s", buf)
		}
	})
	return cfg
}

func testConfig(dir string, paths ...string) Config {
	return Config{
		Paths:        paths,
		StateDir:     filepath.Join(dir, "state"),
		Follow:       true,
		PollInterval: 20 * time.Millisecond,
		DrainIdle:    300 * time.Millisecond,
		Logger:       discard,
	}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs a Tailer with cfg; when ack is set every line is acknowledged
// as soon as it arrives.
func start(t *testing.T, cfg Config, ack bool) *harness {
	t.Helper()
	if cfg.Logger == nil || cfg.Logger.Handler() == discard.Handler() {
		cfg = withLog(t, cfg)
	}
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, tl: tl, out: make(chan Line, 16), cancel: cancel, done: make(chan error, 1),
		got: make(chan struct{}, 1), ack: ack}
	go func() { h.done <- tl.Run(ctx, h.out) }()
	go func() {
		for l := range h.out {
			h.mu.Lock()
			h.lines = append(h.lines, l)
			h.mu.Unlock()
			if ack {
				tl.Ack(l.File, l.Offset, l.End())
			}
			select {
			case h.got <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop cancels Run and waits for it; it returns Run's error.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok {
			close(h.done)
			close(h.out)
			return err
		}
		return nil
	case <-time.After(5 * time.Second):
		h.t.Fatal("Run did not return after cancel")
		return nil
	}
}

// waitN waits until at least n lines arrived and returns a copy of them.
func (h *harness) waitN(n int, timeout time.Duration) []Line {
	h.t.Helper()
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		c := len(h.lines)
		h.mu.Unlock()
		if c >= n {
			return h.snapshot()
		}
		select {
		case <-h.got:
		case <-deadline:
			h.t.Fatalf("got %d lines, want %d\n%s", c, n, dump(h.snapshot()))
		}
	}
}

func (h *harness) snapshot() []Line {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Line(nil), h.lines...)
}

// settle waits d and checks that no more than n lines arrived.
func (h *harness) settle(n int, d time.Duration) []Line {
	h.t.Helper()
	time.Sleep(d)
	ls := h.snapshot()
	if len(ls) != n {
		h.t.Fatalf("got %d lines, want exactly %d:\n%s", len(ls), n, dump(ls))
	}
	return ls
}

func dump(ls []Line) string {
	var b bytes.Buffer
	for _, l := range ls {
		fmt.Fprintf(&b, "%s %s@%d %q\n", l.File, filepath.Base(l.Path), l.Offset, l.Data)
	}
	return b.String()
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func texts(ls []Line) []string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l.Data)
	}
	return s
}

// checkChain verifies that the lines of each file are contiguous and in order.
func checkChain(t *testing.T, ls []Line) {
	t.Helper()
	next := map[FileID]int64{}
	for _, l := range ls {
		if want, ok := next[l.File]; ok && l.Offset != want {
			t.Fatalf("file %s: line at %d, want %d\n%s", l.File, l.Offset, want, dump(ls))
		}
		next[l.File] = l.End()
	}
}
