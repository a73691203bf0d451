package faults

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var depsOnce sync.Once

// needTools finds nginx and wrk, installing Debian's packages when running
// as root (as scripts/test-deps.sh does), or skips.
func needTools(t *testing.T) (nginx, wrk string) {
	t.Helper()
	find := func() (string, string) {
		n, _ := exec.LookPath("nginx")
		if n == "" {
			if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
				n = "/usr/sbin/nginx"
			}
		}
		w, _ := exec.LookPath("wrk")
		return n, w
	}
	nginx, wrk = find()
	if nginx != "" && wrk != "" {
		return nginx, wrk
	}
	depsOnce.Do(func() {
		if os.Getuid() != 0 {
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		install := func() ([]byte, error) {
			c := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "nginx-light", "wrk")
			c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			return c.CombinedOutput()
		}
		if _, err := install(); err != nil {
			_ = exec.CommandContext(ctx, "apt-get", "update", "-qq").Run()
			if out, err := install(); err != nil {
				t.Logf("apt-get install nginx-light wrk: %v\n%s", err, out)
			}
		}
	})
	nginx, wrk = find()
	if nginx == "" || wrk == "" {
		t.Skip("nginx and wrk are needed (apt-get install nginx-light wrk, or run scripts/test-deps.sh as root)")
	}
	return nginx, wrk
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const nginxConf = `
%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
	client_body_temp_path %[2]s/tmp/body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
	access_log %[2]s/access.log combined;
	server {
		listen 127.0.0.1:%[3]d;
		location / { return 200 "ok\n"; }
		location /missing { return 404; }
		location /api/ { return 201 "{}\n"; }
	}
}
`

// The wrk script varies paths, user agents and referrers; the delay bounds
// each connection to about 200 requests a second. Requests repeated within
// one second make identical lines, which must each land.
const wrkScript = `
math.randomseed(7)
local paths = {"/", "/index.html", "/api/items?id=", "/search?q=caf%C3%A9&page=", "/missing/page", "/static/app.js", "/a%20b?x=\"y\""}
local uas = {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)", "wrk \"quoted\" agent"}
local refs = {"", "https://example.com/", "https://www.google.com/search?q=datastream"}
request = function()
	local p = paths[math.random(#paths)]
	if p:sub(-1) == "=" then p = p .. math.random(20) end
	local h = {["User-Agent"] = uas[math.random(#uas)]}
	local r = refs[math.random(#refs)]
	if r ~= "" then h["Referer"] = r end
	return wrk.format("GET", p, h)
end
delay = function() return 5 end
`

// 7. A real writer: nginx on a loopback port under wrk, its access log
// rotated the way logrotate does it (rename, then kill -USR1 so nginx
// reopens; it writes to the renamed file until then). Every line nginx wrote
// lands exactly once.
func TestNginxUnderLoad(t *testing.T) {
	t.Parallel()
	needServices(t)
	nginxBin, wrkBin := needTools(t)
	h := newHarness(t)
	ndir := filepath.Join(h.dir, "nginx")
	for _, d := range []string{"tmp"} {
		if err := os.MkdirAll(filepath.Join(ndir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	user := ""
	if os.Getuid() == 0 {
		user = "user root;" // workers write the log the master opened, in a 0700 temp dir
	}
	conf := filepath.Join(ndir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, user, ndir, port), 0o644); err != nil {
		t.Fatal(err)
	}
	h.logPath = filepath.Join(ndir, "access.log")
	h.logArg = h.logPath // the path only: the tailer drains renamed files itself

	ng := exec.Command(nginxBin, "-p", ndir, "-e", filepath.Join(ndir, "error.log"), "-c", conf, "-g", "daemon off;")
	var ngOut bytes.Buffer
	ng.Stdout, ng.Stderr = &ngOut, &ngOut
	if err := ng.Start(); err != nil {
		t.Fatal(err)
	}
	ngDone := make(chan struct{})
	go func() { _ = ng.Wait(); close(ngDone) }()
	t.Cleanup(func() {
		select {
		case <-ngDone:
		default:
			_ = ng.Process.Signal(syscall.SIGKILL)
			<-ngDone
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor(t, "nginx to answer", 10*time.Second, func() bool {
		select {
		case <-ngDone:
			t.Fatalf("nginx exited: %s", ngOut.String())
		default:
		}
		resp, err := http.Get(url + "ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})

	h.startAll()
	script := filepath.Join(ndir, "vary.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		t.Fatal(err)
	}
	wrk := exec.Command(wrkBin, "-t1", "-c4", "-d8s", "--timeout", "2s", "-s", script, url)
	var wrkOut bytes.Buffer
	wrk.Stdout, wrk.Stderr = &wrkOut, &wrkOut
	if err := wrk.Start(); err != nil {
		t.Fatal(err)
	}
	wrkDone := make(chan error, 1)
	go func() { wrkDone <- wrk.Wait() }()

	// Rotate three times while wrk runs, as logrotate with a postrotate of
	// "nginx -s reopen" (SIGUSR1 to the master) does.
	const rotations = 3
	for i := range rotations {
		time.Sleep(2 * time.Second)
		for k := i; k >= 1; k-- {
			if err := renameIfExists(fmt.Sprintf("%s.%d", h.logPath, k), fmt.Sprintf("%s.%d", h.logPath, k+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(h.logPath, h.logPath+".1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // nginx still writes to access.log.1
		if err := ng.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-wrkDone; err != nil {
		t.Fatalf("wrk: %v\n%s", err, wrkOut.String())
	}
	t.Logf("wrk: %s", strings.Join(strings.Fields(wrkOut.String()), " "))
	// Stop nginx gracefully: every line it will ever write is on disk.
	_ = ng.Process.Signal(syscall.SIGQUIT)
	select {
	case <-ngDone:
	case <-time.After(10 * time.Second):
		t.Fatal("nginx did not stop on SIGQUIT")
	}

	var lines []pos // each rotated file is a file of its own
	for i := rotations; i >= 0; i-- {
		p := h.logPath
		if i > 0 {
			p = fmt.Sprintf("%s.%d", h.logPath, i)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 || data[len(data)-1] != '\n' {
			t.Fatalf("%s does not end with a newline (%d bytes)", p, len(data))
		}
		var off int64
		for _, l := range bytes.Split(data[:len(data)-1], []byte("\n")) {
			lines = append(lines, pos{file: rotations - i, off: off, data: l})
			off += int64(len(l)) + 1
		}
	}
	if len(lines) < 1000 {
		t.Fatalf("nginx wrote only %d lines", len(lines))
	}
	dups := map[string]int{}
	same := 0
	for _, l := range lines {
		if dups[string(l.data)]++; dups[string(l.data)] == 2 {
			same++
		}
	}
	t.Logf("nginx wrote %d lines in %d files, %d distinct lines written more than once", len(lines), rotations+1, same)
	rec, err := h.waitLanded(len(lines), landWait)
	if err != nil {
		t.Error(err)
	}
	h.verify(fmt.Sprintf("7. nginx + wrk, rename+USR1 rotation ×%d", rotations), lines, rec, "")
}
