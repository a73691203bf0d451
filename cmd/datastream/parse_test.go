package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	goodLine = `93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /a?b=1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3"`
	tlsLine  = `10.0.0.1 - - [01/Nov/2022:00:13:13 -0500] "\x16\x03\x01\xFF" 400 157 "-" "-"`
)

func runParseT(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = runParse(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestParseStdin(t *testing.T) {
	in := goodLine + "\r\n" + "not a log line\n" + tlsLine + "\n"
	out, errs, err := runParseT(t, in)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got %q", out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	want := map[string]any{
		"time": "2015-05-17T08:05:32Z", "remote_addr": "93.180.71.3", "method": "GET",
		"path": "/a", "query": "b=1", "status": 304.0, "body_bytes_sent": 0.0,
		"http_user_agent": "Debian APT-HTTP/1.3",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if _, ok := m["remote_user"]; ok {
		t.Errorf("absent remote_user was written: %s", lines[0])
	}
	if _, ok := m["http_referer"]; ok {
		t.Errorf("absent referer was written: %s", lines[0])
	}
	// The TLS line: binary request kept as text, invalid UTF-8 escaped validly.
	m = nil
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatalf("%v: %s", err, lines[1])
	}
	if _, ok := m["method"]; ok {
		t.Errorf("garbage request has a method: %s", lines[1])
	}
	if m["request"] != "\x16\x03\x01\uFFFD" {
		t.Errorf("request = %q", m["request"])
	}
	if !strings.Contains(errs, "stdin:2: $remote_addr at byte 0") {
		t.Errorf("stderr lacks the rejected line's reason:\n%s", errs)
	}
	if !strings.Contains(errs, "parsed 2, rejected 1") {
		t.Errorf("stderr lacks the count:\n%s", errs)
	}
}

func TestParseFilesGzipAuto(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "a.log")
	if err := os.WriteFile(plain, []byte(goodLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(goodLine + "\n" + goodLine)) // no final newline
	zw.Close()
	gzName := filepath.Join(dir, "b.log.gz")
	if err := os.WriteFile(gzName, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, err := runParseT(t, "", "--log-format", "auto", plain, gzName)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d output lines, want 3:\n%s", n, out)
	}
	if !strings.Contains(errs, "auto chose combined") || !strings.Contains(errs, "parsed 3, rejected 0") {
		t.Errorf("stderr:\n%s", errs)
	}
}

func TestParseLongLine(t *testing.T) {
	ua := strings.Repeat("x", 5<<20)
	line := `1.2.3.4 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 1 "-" "` + ua + `"`
	out, errs, err := runParseT(t, line+"\n"+goodLine+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errs, "parsed 2, rejected 0") {
		t.Errorf("stderr:\n%s", errs)
	}
	if !strings.Contains(out, ua) {
		t.Error("long user agent missing from the output")
	}
}

func TestParseCustomFormatAndConf(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte(`http {
    # the proxy log
    log_format up '$remote_addr [$time_local] "$request" $status '
                  '$upstream_response_time $session';
    access_log /var/log/nginx/access.log up;
}
`), 0o644)
	line := `1.2.3.4 [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 502 0.010, 0.020 : 0.030 abc`
	for _, f := range []string{"@" + conf + ":up", `$remote_addr [$time_local] "$request" $status $upstream_response_time $session`} {
		out, errs, err := runParseT(t, line+"\n", "--log-format", f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: %v\n%s\n%s", f, err, out, errs)
		}
		if m["upstream_response_time"] != 0.06 || m["upstream_response_times"] != "0.010, 0.020 : 0.030" {
			t.Errorf("%s: %s", f, out)
		}
		if ex, _ := m["extra"].(map[string]any); ex["session"] != "abc" {
			t.Errorf("%s: extra = %v", f, m["extra"])
		}
		if !strings.Contains(errs, "log format: custom") {
			t.Errorf("stderr:\n%s", errs)
		}
	}
}

func TestParseErrors(t *testing.T) {
	if _, _, err := runParseT(t, "", "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if _, _, err := runParseT(t, "", "--bogus"); !errors.Is(err, errUsage) {
		t.Errorf("bad flag: %v", err)
	}
	if _, _, err := runParseT(t, "", "--log-format", "nosuchpreset"); !errors.Is(err, errUsage) {
		t.Errorf("bad format: %v", err)
	}
	// A missing file is an I/O error (exit 1), but the other files are read.
	out, errs, err := runParseT(t, goodLine+"\n", "/nonexistent/file.log", "-")
	if err == nil || errors.Is(err, errUsage) {
		t.Errorf("missing file: err = %v", err)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(errs, "parsed 1, rejected 0") {
		t.Errorf("out %q\nerr %q", out, errs)
	}
}

func TestParseMainExitCodes(t *testing.T) {
	if code := Main([]string{"parse", "--help"}); code != 0 {
		t.Errorf("--help exit %d", code)
	}
	if code := Main([]string{"parse", "--log-format", "nosuch"}); code != 2 {
		t.Errorf("usage exit %d", code)
	}
}
