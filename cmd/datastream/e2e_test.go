package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/testenv"
)

// The end-to-end tests run the real binary against the real RabbitMQ and
// MariaDB, each test under its own exchange, queues and database.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// binary builds datastream once per test run (with -race, like the tests).
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "datastream-e2e")
		if binErr == nil {
			binPath, binErr = testenv.BuildBinary(binDir, true)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// hostileLines are the lines every pipeline must carry intact.
func hostileLines() [][]byte {
	long := `10.0.0.9 - - [27/Nov/2026:06:00:00 +0100] "GET /big?` + strings.Repeat("a", 64*1024) + ` HTTP/1.1" 200 12 "-" "long/1.0"`
	return [][]byte{
		[]byte(`203.0.113.7 - - [27/Nov/2026:06:00:01 +0000] "GET /index.html HTTP/1.1" 200 512 "https://example.com/" "Mozilla/5.0"`),
		{}, // blank line
		[]byte("203.0.113.8 - - [27/Nov/2026:06:00:02 +0000] \"GET /caf\xc3\xa9\xff\xfe HTTP/1.1\" 404 0 \"-\" \"bad\xffutf8\""),
		[]byte(long),
		[]byte(`198.51.100.1 - - [27/Nov/2026:06:00:03 -0500] "GET /search?q=<script>alert(1)</script>&id=1' OR '1'='1;DROP TABLE raw_log;-- HTTP/1.1" 200 99 "-" "sqlmap/1.7"`),
		[]byte(`198.51.100.2 - - [27/Nov/2026:06:00:04 +0000] "" 400 0 "-" "-"`),
		[]byte(`198.51.100.3 - - [27/Nov/2026:06:00:05 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" 400 157 "-" "-"`),
		[]byte("complete garbage that fits no access-log format \x00\x01"),
		[]byte(`198.51.100.4 - - [27/Nov/2026:06:00:06 +0000] "GET /dup HTTP/1.1" 200 1 "-" "same"`),
		[]byte(`198.51.100.4 - - [27/Nov/2026:06:00:06 +0000] "GET /dup HTTP/1.1" 200 1 "-" "same"`),
	}
}

func writeLog(t *testing.T, lines [][]byte, normal int) (string, [][]byte) {
	t.Helper()
	all := append([][]byte{}, lines...)
	for i := range normal {
		all = append(all, fmt.Appendf(nil, `192.0.2.%d - user%d [27/Nov/2026:07:%02d:%02d +0000] "GET /page/%d?x=%d HTTP/1.1" %d %d "-" "agent/%d"`,
			i%250, i%7, (i/60)%60, i%60, i, i*7, []int{200, 200, 304, 404, 500}[i%5], i*13, i%11))
	}
	var buf bytes.Buffer
	for _, l := range all {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, all
}

// startCmd starts the binary with args and returns it with its stderr,
// which is logged if the test fails.
func startCmd(t *testing.T, ctx context.Context, args ...string) (*exec.Cmd, *testenv.SyncBuffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	errb := new(testenv.SyncBuffer)
	cmd.Stderr = errb
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s stderr:\n%s", args[0], errb.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, errb
}

func runCmd(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("datastream %s: %v\nstdout:\n%s\nstderr:\n%s", args[0], err, out.String(), errb.String())
	}
	return out.String()
}

// checkTables asserts raw_log holds exactly want (bytes, once each, in file
// order), that clean rows plus the rejected lines add up to len(want), and
// that the dead-letter queue holds dlqDepth messages.
func checkTables(t *testing.T, env *testenv.Env, want [][]byte, rejected, dlqDepth int) {
	t.Helper()
	st := env.Store(t)
	rows, err := st.DB.Query("SELECT line FROM raw_log ORDER BY file_offset")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	rows.Close()
	if len(got) != len(want) {
		t.Fatalf("raw_log has %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("raw row %d differs:\n got %q\nwant %q", i, trunc(got[i]), trunc(want[i]))
		}
	}
	var clean int
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log").Scan(&clean); err != nil {
		t.Fatal(err)
	}
	if clean+rejected != len(want) {
		t.Fatalf("clean rows %d + rejected %d != %d lines", clean, rejected, len(want))
	}
	if dlq := env.QueueDepth(t, broker.DeadLetterQueue(env.CleanQueue)); dlq != dlqDepth {
		t.Fatalf("dead-letter queue holds %d messages, want %d", dlq, dlqDepth)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "..."...)
	}
	return b
}

func TestRunOnceStoresEveryLineExactlyOnce(t *testing.T) {
	env := testenv.Parallel(t)
	path, want := writeLog(t, hostileLines(), 2000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	args := append([]string{"run", "--once", "--log", path}, env.Args()...)
	out := runCmd(t, ctx, args...)
	if !strings.Contains(out, fmt.Sprintf("lines read %d, raw rows %d, clean rows %d, rejected 2", len(want), len(want), len(want)-2)) {
		t.Fatalf("unexpected summary: %s", out)
	}
	// Blank line and garbage line do not fit combined; everything else does,
	// including the empty request and TLS bytes.
	checkTables(t, env, want, 2, 2)

	// The same file again: same ids, no new rows. --show names each raw
	// row's file through log_source.
	out = runCmd(t, ctx, append(args, "--show", "1")...)
	if !strings.Contains(out, fmt.Sprintf("raw rows %d, clean rows %d", len(want), len(want)-2)) {
		t.Fatalf("second run changed the tables: %s", out)
	}
	if !strings.Contains(out, ":"+path+" | ") {
		t.Fatalf("--show does not name the source file %s:\n%s", path, out)
	}
	checkTables(t, env, want, 2, 2) // dead letters are remembered: not sent twice

	st := env.Store(t)
	var method, path2, query, ua, status sqlNull
	if err := st.DB.QueryRow(`SELECT method, path, query, user_agent, status_text FROM clean_log WHERE user_agent = 'sqlmap/1.7'`).Scan(&method, &path2, &query, &ua, &status); err != nil {
		t.Fatal(err)
	}
	if method.String != "GET" || path2.String != "/search" || !strings.Contains(query.String, "DROP TABLE raw_log") || status.String != "OK" {
		t.Fatalf("hostile URL row: %+v %+v %+v %+v", method, path2, query, status)
	}
	var req, m sqlNull
	if err := st.DB.QueryRow(`SELECT request, method FROM clean_log WHERE remote_addr = '198.51.100.3'`).Scan(&req, &m); err != nil {
		t.Fatal(err)
	}
	if m.Valid || !strings.HasPrefix(req.String, "\x16\x03\x01") {
		t.Fatalf("TLS garbage request should be kept as text without a method: %q %v", req.String, m)
	}
	var ts string
	if err := st.DB.QueryRow(`SELECT DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s') FROM clean_log WHERE remote_addr = '198.51.100.1'`).Scan(&ts); err != nil {
		t.Fatal(err)
	}
	if ts != "2026-11-27 11:00:03" {
		t.Fatalf("time not converted to UTC: %s", ts)
	}
}

type sqlNull struct {
	String string
	Valid  bool
}

func (n *sqlNull) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		n.Valid = false
	case []byte:
		n.String, n.Valid = string(x), true
	case string:
		n.String, n.Valid = x, true
	default:
		n.String, n.Valid = fmt.Sprint(x), true
	}
	return nil
}

// TestConsumerSIGTERMMidStream stops a consumer with SIGTERM while it is
// busy, starts it again, and checks that no line is lost or doubled.
func TestConsumerSIGTERMMidStream(t *testing.T) {
	env := testenv.Parallel(t)
	path, want := writeLog(t, hostileLines(), 10000)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	runCmd(t, ctx, append([]string{"setup"}, env.Args()...)...)

	start := func(name string, extra ...string) *exec.Cmd {
		cmd, _ := startCmd(t, ctx, append(append([]string{name}, env.Args()...), extra...)...)
		return cmd
	}
	// The whole log is queued before the consumers start, so they are
	// mid-stream when the signal comes however fast they are: one line per
	// message, so that there are many messages to be in the middle of.
	producer := start("logs-producer", "--log", path, "--follow=false", "--state-dir", t.TempDir(), "--lines-per-message", "1")
	if err := producer.Wait(); err != nil {
		t.Fatalf("producer: %v", err)
	}
	for _, q := range []string{env.LakeQueue, env.CleanQueue} {
		// One message per line, and the file's source announcement.
		if d := env.QueueDepth(t, q); d != len(want)+1 {
			t.Fatalf("queue %s holds %d messages after the producer's exit, want %d", q, d, len(want)+1)
		}
	}
	lake := start("data-lake-consumer", "--batch-size", "200")
	clean := start("data-clean-consumer", "--batch-size", "200")

	st := env.Store(t)
	count := func(table string) int {
		var n int
		if err := st.DB.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(3 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: raw %d, clean %d, lake queue %d, clean queue %d, dead letters %d",
					what, count("raw_log"), count("clean_log"), env.QueueDepth(t, env.LakeQueue), env.QueueDepth(t, env.CleanQueue),
					env.QueueDepth(t, broker.DeadLetterQueue(env.CleanQueue)))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Stop both consumers mid-stream.
	waitFor("some raw rows", func() bool { return count("raw_log") > 300 })
	for _, c := range []*exec.Cmd{lake, clean} {
		if err := c.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*exec.Cmd{"lake": lake, "clean": clean} {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s consumer exited with %v after SIGTERM", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s consumer did not exit within 15 s of SIGTERM", name)
		}
	}
	// Both stopped mid-stream: lines were left in both queues.
	for _, q := range []string{env.LakeQueue, env.CleanQueue} {
		if d := env.QueueDepth(t, q); d == 0 {
			t.Fatalf("queue %s was empty when its consumer stopped: the stop was not mid-stream (raw %d, clean %d rows)", q, count("raw_log"), count("clean_log"))
		}
	}
	lake = start("data-lake-consumer")
	clean = start("data-clean-consumer")
	dlq := broker.DeadLetterQueue(env.CleanQueue)
	waitFor("every line in both tables", func() bool {
		return count("raw_log") == len(want) && count("clean_log")+env.QueueDepth(t, dlq) == len(want)
	})
	for _, c := range []*exec.Cmd{lake, clean} {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	}
	checkTables(t, env, want, 2, 2)
}
