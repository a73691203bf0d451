package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenCommand(t *testing.T) {
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := runGen(context.Background(), args, &out, &errb)
		return out.String(), err
	}
	a, err := run("--lines", "500", "--seed", "3")
	if err != nil {
		t.Fatal(err)
	}
	b, err := run("--lines", "500", "--seed", "3")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || strings.Count(a, "\n") != 500 {
		t.Fatalf("not reproducible or wrong count: %d lines", strings.Count(a, "\n"))
	}
	c, err := run("--lines", "500", "--seed", "4")
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Fatal("different seeds gave the same log")
	}
	j, err := run("--lines", "3", "--log-format", "json", "--start", "2026-11-27T10:00:00+01:00")
	if err != nil || !strings.HasPrefix(j, `{"time":"2026-11-27T10:00:00+01:00"`) {
		t.Fatalf("json: %v %q", err, j)
	}
	for _, args := range [][]string{{"--lines", "-2"}, {"--rate", "-1"}, {"--append"}, {"extra"}, {"--start", "yesterday"}, {"--log-format", "$"}, {"--nope"}} {
		if _, err := run(args...); !errors.Is(err, errUsage) {
			t.Errorf("%q: got %v, want errUsage", args, err)
		}
	}
	if _, err := run("--help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}

	// --out and --append.
	p := filepath.Join(t.TempDir(), "access.log")
	if _, err := run("--lines", "10", "--out", p); err != nil {
		t.Fatal(err)
	}
	if _, err := run("--lines", "5", "--out", p, "--append", "--seed", "2"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if n := bytes.Count(data, []byte("\n")); n != 15 {
		t.Fatalf("%d lines after append, want 15", n)
	}
}

func TestGenPacedUntilCancelled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "live.log")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- runGen(ctx, []string{"--rate", "200", "--out", p}, io.Discard, io.Discard) }()
	time.Sleep(300 * time.Millisecond)
	// Whatever has been written so far is whole lines: nothing waits in a buffer.
	data, _ := os.ReadFile(p)
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("after 300ms at 200/s: %d bytes, ends in newline: %v", len(data), len(data) > 0 && data[len(data)-1] == '\n')
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("gen --rate did not stop on cancel")
	}
	data, _ = os.ReadFile(p)
	if n := bytes.Count(data, []byte("\n")); n < 30 || n > 120 {
		t.Fatalf("%d lines in ~300ms at 200/s", n)
	}
}
