package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

var servingRE = regexp.MustCompile(`serving /metrics.* addr=(\S+)`)

// startWithMetrics starts a component with --metrics-listen on a free port
// and returns its base URL once it serves.
func startWithMetrics(t *testing.T, ctx context.Context, args ...string) (string, *exec.Cmd, *testenv.SyncBuffer) {
	t.Helper()
	cmd, errb := startCmd(t, ctx, append(args, "--metrics-listen", "127.0.0.1:0")...)
	t.Cleanup(func() { // before startCmd's, which logs stderr
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(errb.String()); m != nil {
			return "http://" + m[1], cmd, errb
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never served its metrics", args[0])
	return "", nil, nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitStatus polls url until it answers want and returns how long it took.
func waitStatus(t *testing.T, url string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		code, body := get(t, url)
		if code == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s still %d (%q) after %s, want %d", url, code, strings.TrimSpace(body), within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func metricValue(body, series string) string {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestMetricsAndReadinessUnderOutages(t *testing.T) {
	env := testenv.Parallel(t)
	path, want := writeLog(t, hostileLines(), 500)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	runCmd(t, ctx, append([]string{"setup"}, env.Args()...)...)
	amqpP := testenv.NewProxy(t, env.AMQPAddr())
	sqlP := testenv.NewProxy(t, env.MySQLAddr())
	base, _, _ := startWithMetrics(t, ctx, append([]string{"data-clean-consumer"}, env.ArgsVia(amqpP.Addr(), sqlP.Addr())...)...)
	if code, body := get(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	waitStatus(t, base+"/readyz", 200, time.Minute)

	runCmd(t, ctx, append([]string{"logs-producer", "--log", path, "--follow=false", "--state-dir", t.TempDir()}, env.Args()...)...)
	comp := `{component="data-clean-consumer"}`
	var body string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, body = get(t, base+"/metrics")
		stored := metricValue(body, "datastream_consumer_rows_written_total"+comp)
		dead := metricValue(body, `datastream_consumer_dead_letters_total{component="data-clean-consumer",reason="format"}`)
		if stored == fmt.Sprint(len(want)-2) && dead == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows %q, dead letters %q, want %d and 2", stored, dead, len(want)-2)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, series := range []string{
		"datastream_consumer_messages_total" + comp,
		"datastream_consumer_batch_duration_seconds_count" + comp,
		"datastream_commit_lag_seconds_count" + comp,
		"datastream_newest_committed_read_timestamp_seconds" + comp,
		"datastream_newest_committed_line_timestamp_seconds" + comp,
		`datastream_queue_messages{queue="` + env.CleanQueue + `"}`,
		`datastream_up{target="mysql"}`,
		`datastream_up{target="rabbitmq"}`,
	} {
		if metricValue(body, series) == "" {
			t.Errorf("/metrics lacks %s", series)
		}
	}

	for _, tc := range []struct {
		name string
		p    *testenv.Proxy
		mode testenv.CutMode
	}{
		{"RabbitMQ refused", amqpP, testenv.Refuse},
		{"MySQL partitioned", sqlP, testenv.Blackhole},
		{"RabbitMQ partitioned", amqpP, testenv.Blackhole},
		{"MySQL refused", sqlP, testenv.Refuse},
	} {
		tc.p.Cut(tc.mode)
		down := waitStatus(t, base+"/readyz", 503, 30*time.Second)
		tc.p.Restore()
		up := waitStatus(t, base+"/readyz", 200, time.Minute)
		t.Logf("%s: unready after %s, ready again %s after the restore", tc.name, down.Round(10*time.Millisecond), up.Round(10*time.Millisecond))
		if down > 5*time.Second {
			t.Errorf("%s: /readyz took %s to turn unready, want at most 5 s", tc.name, down)
		}
	}
	_, body = get(t, base+"/metrics")
	if v := metricValue(body, `datastream_reconnects_total{component="data-clean-consumer",target="rabbitmq"}`); v == "" || v == "0" {
		t.Errorf("reconnects to RabbitMQ not counted after two cuts: %q", v)
	}
}
