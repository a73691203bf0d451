package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// NginxOptions are the load of an nginx run: wrk's threads and connections
// for Duration, as `wrk -t2 -c16 -d20s`.
type NginxOptions struct {
	Threads, Connections int
	Duration             time.Duration
}

// NginxResult is one nginx run: how fast nginx wrote its log while the
// three components followed it, how far behind the tables were at worst
// during the load, and how long after it they held every line.
type NginxResult struct {
	LinesPerMessage int     `json:"lines_per_message"`
	Lines           int64   `json:"lines"` // what nginx wrote
	LoadSeconds     float64 `json:"load_seconds"`
	NginxPerSec     float64 `json:"nginx_lines_per_sec"`
	// MaxLag is the most lines written and not yet in both tables, of
	// samples every 500 ms during the load.
	MaxLag int64 `json:"max_lag_lines"`
	// LagAtEnd is the same when the load stopped; DrainSeconds is how long
	// after that every line was in both tables.
	LagAtEnd     int64   `json:"lag_at_end_lines"`
	DrainSeconds float64 `json:"drain_seconds"`
}

// nginxConf serves every request from memory and logs it in the combined
// format; a single worker is enough to outrun the pipeline many times.
const nginxConf = `%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
	client_body_temp_path %[2]s/tmp;
	proxy_temp_path %[2]s/tmp;
	fastcgi_temp_path %[2]s/tmp;
	uwsgi_temp_path %[2]s/tmp;
	scgi_temp_path %[2]s/tmp;
	access_log %[2]s/access.log combined;
	server {
		listen 127.0.0.1:%[3]d;
		location / { return 200 "ok\n"; }
	}
}
`

// tools finds nginx and wrk (scripts/test-deps.sh installs them).
func tools() (nginx, wrk string, err error) {
	nginx, _ = exec.LookPath("nginx")
	if nginx == "" {
		if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
			nginx = "/usr/sbin/nginx"
		}
	}
	wrk, _ = exec.LookPath("wrk")
	if nginx == "" || wrk == "" {
		return "", "", errors.New("nginx and wrk are needed: run scripts/test-deps.sh as root (apt-get install nginx-light wrk)")
	}
	return nginx, wrk, nil
}

// RunNginx starts nginx on a free loopback port, the three components
// following its access log, then wrk against it, and measures how the
// tables keep pace.
func RunNginx(ctx context.Context, o Options, load NginxOptions) (res *NginxResult, err error) {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	nginxBin, wrkBin, err := tools()
	if err != nil {
		return nil, err
	}
	sg, err := newStage(ctx, &o, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := sg.close(&o); err == nil {
			err = cerr
		}
	}()
	url, stopNginx, err := startNginx(nginxBin, sg.dir)
	if err != nil {
		return nil, err
	}
	defer stopNginx()
	logPath := filepath.Join(sg.dir, "access.log")

	var kids []*child
	defer func() {
		for _, k := range kids {
			k.kill()
		}
	}()
	for _, args := range [][]string{
		append(append([]string{"data-lake-consumer"}, sg.common...), o.ConsumerArgs...),
		append(append([]string{"data-clean-consumer"}, sg.common...), o.ConsumerArgs...),
		append(append(append([]string{"logs-producer"}, sg.common...), "--log", logPath, "--follow=true", "--state-dir", filepath.Join(sg.dir, "state"),
			"--lines-per-message", LinesPerMessageFlag(o.LinesPerMessage)), o.ProducerArgs...),
	} {
		k, err := start(ctx, o.Binary, sg.dir, args)
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
		if len(kids) == 2 {
			if err := waitConsumers(ctx, sg.dialer, []string{sg.lake, sg.clean}, kids...); err != nil {
				return nil, err
			}
		}
	}
	// One request through the whole pipeline: every component is up.
	if err := get(url + "warm-up"); err != nil {
		return nil, err
	}
	count := func() (int64, error) {
		raw, clean, err := sg.st.Count(ctx)
		return min(raw, clean), err
	}
	if err := waitRows(ctx, count, 1, time.Minute, kids); err != nil {
		return nil, err
	}

	o.progress("nginx: wrk -t%d -c%d -d%s, lines per message %s", load.Threads, load.Connections, load.Duration, LinesPerMessageFlag(o.LinesPerMessage))
	lines := &lineCounter{path: logPath}
	before, err := lines.count()
	if err != nil {
		return nil, err
	}
	wrk := exec.CommandContext(ctx, wrkBin, "-t"+strconv.Itoa(load.Threads), "-c"+strconv.Itoa(load.Connections),
		"-d"+strconv.Itoa(int(load.Duration.Seconds()))+"s", url)
	var wrkOut bytes.Buffer
	wrk.Stdout, wrk.Stderr = &wrkOut, &wrkOut
	t0 := time.Now()
	if err := wrk.Start(); err != nil {
		return nil, fmt.Errorf("start wrk: %w", err)
	}
	wrkDone := make(chan error, 1)
	go func() { wrkDone <- wrk.Wait() }()
	res = &NginxResult{LinesPerMessage: o.LinesPerMessage}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var loadEnd time.Time
	for loadEnd.IsZero() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case werr := <-wrkDone:
			if werr != nil {
				return nil, fmt.Errorf("wrk: %v\n%s", werr, wrkOut.String())
			}
			loadEnd = time.Now()
		case <-tick.C:
		}
		written, err := lines.count()
		if err != nil {
			return nil, err
		}
		stored, err := count()
		if err != nil {
			return nil, err
		}
		res.MaxLag = max(res.MaxLag, written-stored)
		res.LagAtEnd = written - stored
	}
	total, err := lines.count()
	if err != nil {
		return nil, err
	}
	res.Lines = total - before
	res.LoadSeconds = loadEnd.Sub(t0).Seconds()
	res.NginxPerSec = float64(res.Lines) / res.LoadSeconds
	if err := waitRows(ctx, count, total, 20*time.Minute, kids); err != nil {
		return nil, err
	}
	res.DrainSeconds = time.Since(loadEnd).Seconds()
	o.progress("nginx: %d lines at %.0f lines/s, largest lag %d lines, all stored %.1f s after the load", res.Lines, res.NginxPerSec, res.MaxLag, res.DrainSeconds)
	return res, nil
}

// startNginx runs nginx in dir on a free loopback port until stop.
func startNginx(bin, dir string) (url string, stop func(), err error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	user := ""
	if os.Getuid() == 0 {
		user = "user root;" // workers write the log the master opened, in a 0700 temp dir
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, user, dir, port), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf, "-g", "daemon off;")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start nginx: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := get(url + "ready"); err == nil {
			return url, stop, nil
		}
		select {
		case <-done:
			return "", nil, fmt.Errorf("nginx exited: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("nginx does not answer on %s: %s", url, out.String())
		}
	}
}

func get(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// waitRows waits until count reaches want, failing after limit or when a
// component exits.
func waitRows(ctx context.Context, count func() (int64, error), want int64, limit time.Duration, kids []*child) error {
	var n int64
	return pollKids(ctx, limit, 100*time.Millisecond, kids, func() (bool, error) {
		var err error
		n, err = count()
		return n >= want, err
	}, func() error { return fmt.Errorf("%d of %d lines in both tables after %s", n, want, limit) })
}

// WriteNginxTable prints nginx runs side by side.
func WriteNginxTable(w io.Writer, runs []*NginxResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(*NginxResult) string) {
		cells := []string{label}
		for _, r := range runs {
			cells = append(cells, f(r))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	row("lines/message", func(r *NginxResult) string { return LinesPerMessageFlag(r.LinesPerMessage) })
	row("nginx lines written", func(r *NginxResult) string { return fmt.Sprint(r.Lines) })
	row("load seconds", func(r *NginxResult) string { return fmt.Sprintf("%.1f", r.LoadSeconds) })
	row("nginx lines/s", func(r *NginxResult) string { return fmt.Sprintf("%.0f", r.NginxPerSec) })
	row("largest lag (lines)", func(r *NginxResult) string { return fmt.Sprint(r.MaxLag) })
	row("lag when the load stopped", func(r *NginxResult) string { return fmt.Sprint(r.LagAtEnd) })
	row("all stored after (s)", func(r *NginxResult) string { return fmt.Sprintf("%.1f", r.DrainSeconds) })
	return tw.Flush()
}

// lineCounter counts the lines of a growing file, reading each byte once.
type lineCounter struct {
	path  string
	off   int64
	lines int64
	buf   []byte
}

func (c *lineCounter) count() (int64, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if c.buf == nil {
		c.buf = make([]byte, 1<<20)
	}
	for {
		n, err := f.ReadAt(c.buf, c.off)
		c.lines += int64(bytes.Count(c.buf[:n], []byte{'\n'}))
		c.off += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			return c.lines, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
