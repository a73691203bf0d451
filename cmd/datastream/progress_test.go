package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/datastream/datastream/internal/testenv"
)

// runUnderPTY runs the binary with stderr on a pseudo-terminal and returns
// what the terminal showed and stdout.
func runUnderPTY(t *testing.T, args ...string) (term, stdout string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&screen, ptmx) // ends with EIO once the tty is closed
	}()
	err = cmd.Run()
	tty.Close()
	<-read
	if err != nil {
		t.Fatalf("datastream %s: %v\nterminal:\n%q", args[0], err, screen.String())
	}
	return screen.String(), out.String()
}

func TestProgressBarOnATerminalOnly(t *testing.T) {
	env := testenv.Parallel(t)
	path, _ := writeLog(t, nil, 3000)

	term, stdout := runUnderPTY(t, append([]string{"run", "--once", "--log", path}, env.Args()...)...)
	// The last frame before the summary: everything read, confirmed and stored.
	frames := strings.Split(term, "\r")
	last := ""
	for _, f := range frames {
		if strings.Contains(f, "lines read") {
			last = f
		}
	}
	n := "3,000"
	for _, w := range []string{"[####################]", "100%", n + " lines read", n + " confirmed", n + " stored", "lines/s", "\x1b[K"} {
		if !strings.Contains(last, w) {
			t.Errorf("last frame lacks %q: %q", w, last)
		}
	}
	if len(frames) < 3 {
		t.Errorf("the bar was drawn %d times, want it redrawn in place", len(frames)-1)
	}
	if !strings.Contains(stdout, "lines read 3000, raw rows 3000, clean rows 3000") {
		t.Errorf("summary: %q", stdout)
	}
	t.Logf("last frame under a pty: %q", strings.TrimSpace(last))

	// The producer's backfill (a .gz file would be read the same way).
	path2, _ := writeLog(t, nil, 2000)
	term, _ = runUnderPTY(t, append([]string{"logs-producer", "--log", path2, "--follow=false", "--state-dir", t.TempDir()}, env.Args()...)...)
	if !strings.Contains(term, "100%") || !strings.Contains(term, "2,000 confirmed") {
		t.Errorf("producer backfill bar: %q", term)
	}

	// Off a terminal: no bar at all.
	path3, _ := writeLog(t, nil, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"run", "--once", "--log", path3}, env.Args()...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if s := errb.String(); strings.Contains(s, "\r") || strings.Contains(s, "lines/s") {
		t.Errorf("a bar on a pipe: %q", s)
	}
}

func TestRunStatusLineOnATerminal(t *testing.T) {
	env := testenv.Parallel(t)
	path, _ := writeLog(t, nil, 500)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"run", "--log", path}, env.Args()...)...)
	cmd.Stderr = tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var screen testenv.SyncBuffer
	go func() { _, _ = io.Copy(&screen, ptmx) }()
	// The first status line comes after statusInterval.
	for !strings.Contains(screen.String(), "behind: raw") {
		if ctx.Err() != nil {
			t.Fatalf("no status line:\n%q", screen.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGTERM: %v", err)
	}
	var line string
	for _, l := range strings.Split(screen.String(), "\n") {
		if strings.Contains(l, "behind: raw") {
			line = strings.TrimSpace(l)
		}
	}
	for _, w := range []string{"read ", "confirmed ", "raw ", "clean ", "/s"} {
		if !strings.Contains(line, w) {
			t.Errorf("status line lacks %q: %q", w, line)
		}
	}
	t.Logf("status line: %q", line)
}
