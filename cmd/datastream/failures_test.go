package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

// result is how a datastream process ended.
type result struct {
	code           int
	stdout, stderr string
}

// runExit runs the binary and returns its exit status and output, failing
// only when it cannot be run or does not end in time.
func runExit(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("datastream %s did not end within %s (a refusal must not be retried)\nstderr:\n%s", args[0], timeout, errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// withArg returns args with flag's value replaced.
func withArg(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = value
		}
	}
	return out
}

func TestClearFailuresAtStartup(t *testing.T) {
	env := testenv.Parallel(t)
	path, _ := writeLog(t, hostileLines()[:1], 3)
	args := env.Args()
	for _, tc := range []struct {
		name   string
		args   []string
		want   []string // in stderr
		secret string   // never in the output
	}{
		{"no such file", append([]string{"run", "--once", "--log", "/no/such/dir/access.log"}, args...),
			[]string{`"/no/such/dir/access.log"`, "no such file"}, ""},
		{"producer, no such file", append([]string{"logs-producer", "--follow=false", "--log", "/no/such/dir/*.log"}, args...),
			[]string{`"/no/such/dir/*.log"`, "no such file"}, ""},
		{"bad RabbitMQ password", append([]string{"run", "--once", "--log", path}, withArg(args, "--amqp-url", "amqp://guest:Wr0ngPassw0rd@"+env.AMQPAddr()+"/")...),
			[]string{"RabbitMQ at amqp://guest:xxxxx@", "username or password not allowed", "not retried"}, "Wr0ngPassw0rd"},
		{"unknown vhost", append([]string{"data-lake-consumer"}, withArg(args, "--amqp-url", env.AMQPURLVia(env.AMQPAddr())+"no_such_vhost_i16")...),
			[]string{"vhost", "not found", "not retried"}, ""},
		{"bad MySQL password", append([]string{"data-clean-consumer"}, withArg(args, "--mysql-dsn", "nobody_i16:S3cretPw@tcp("+env.MySQLAddr()+")/"+env.Database)...),
			[]string{"MySQL at nobody_i16:xxxxx@", "Access denied", "not retried"}, "S3cretPw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runExit(t, time.Minute, tc.args...)
			if r.code != 1 {
				t.Fatalf("exit status %d, want 1\nstderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if tc.secret != "" && strings.Contains(r.stdout+r.stderr, tc.secret) {
				t.Errorf("the password is in the output:\n%s", r.stderr)
			}
		})
	}
}

func TestRunOnceInterruptedPrintsSummary(t *testing.T) {
	env := testenv.Parallel(t)
	path, want := writeLog(t, nil, 60000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"run", "--once", "--log", path}, env.Args()...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st := env.Store(t)
	for {
		var n int
		_ = st.DB.QueryRow("SELECT COUNT(*) FROM " + env.RawTable).Scan(&n)
		if n > 200 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no rows stored\nstderr:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want status 130\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "lines read ") || !strings.Contains(errb.String(), "interrupted before the end") {
		t.Errorf("no summary so far:\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	var raw int
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM " + env.RawTable).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw >= len(want) {
		t.Logf("every line landed before the signal (%d rows): the summary is still checked", raw)
	}
}

// A signal while a component still waits for its servers is a stop, not a
// failure: a service exits 0, an interrupted run --once 130.
func TestSignalWhileStarting(t *testing.T) {
	env := testenv.Parallel(t)
	path, _ := writeLog(t, nil, 3)
	down := withArg(env.Args(), "--amqp-url", "amqp://guest:guest@127.0.0.1:1/")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{append([]string{"data-lake-consumer"}, down...), 0},
		{append([]string{"run", "--once", "--log", path}, down...), 130},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, binary(t), tc.args...)
		var errb testenv.SyncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for !strings.Contains(errb.String(), "RabbitMQ not reachable; retrying") && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		cancel()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if code != tc.want {
			t.Errorf("%s: exit %d after SIGTERM while starting, want %d\n%s", tc.args[0], code, tc.want, errb.String())
		}
	}
}
