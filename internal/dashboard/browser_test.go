package dashboard_test

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/datastream/datastream/internal/dashboard"
	"github.com/datastream/datastream/internal/testenv"
)

// pageState is what the browser test reads off the page.
type pageState struct {
	Loaded   string     `json:"loaded"`
	Requests string     `json:"requests"`
	Bytes    string     `json:"bytes"`
	Visitors string     `json:"visitors"`
	Paths    [][]string `json:"paths"`
	NotFound []string   `json:"notfound"`
	Lines    []string   `json:"lines"`
	XSS      any        `json:"xss"`
	Images   int        `json:"images"`
	Scripts  int        `json:"scripts"`
	Marker   any        `json:"marker"`
}

const readPage = `(() => {
  const rows = (id) => [...document.querySelectorAll('#' + id + ' tr')].map((tr) => [tr.querySelector('a').textContent, tr.querySelector('td.n').dataset.n]);
  return {
    loaded: document.body.dataset.loaded || '',
    requests: document.getElementById('ov-requests').dataset.n || '',
    bytes: document.getElementById('ov-bytes').dataset.n || '',
    visitors: document.getElementById('ov-visitors').dataset.n || '',
    paths: document.getElementById('panel-paths') ? rows('panel-paths') : [],
    notfound: [...document.querySelectorAll('#panel-notfound a')].map((a) => a.textContent),
    lines: [...document.querySelectorAll('#lines td:nth-child(3)')].map((td) => td.textContent),
    xss: window.__xss === undefined ? null : window.__xss,
    images: document.querySelectorAll('img').length,
    scripts: document.querySelectorAll('script').length,
    marker: window.__marker === undefined ? null : window.__marker,
  };
})()`

// The payload lines: a path and a user agent that run script if they
// are ever parsed as HTML.
const xssPath = `/<script>window.__xss=1</script>`

func payloadLines(at time.Time) string {
	ts := at.UTC().Format("02/Jan/2006:15:04:05 -0700")
	return fmt.Sprintf("203.0.113.9 - - [%s] \"GET %s HTTP/1.1\" 404 12 \"-\" \"<img src=x onerror=window.__xss=2>\"\n", ts, xssPath) +
		fmt.Sprintf("203.0.113.9 - - [%s] \"GET /a%%22onerror=%%22window.__xss=3 HTTP/1.1\" 200 5 \"-\" \"\\\"><svg onload=window.__xss=4>\"\n", ts)
}

func TestBrowserDashboard(t *testing.T) {
	env := testenv.Parallel(t)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed: make test-deps (apt-get install chromium)")
	}
	bin, err := testenv.BuildBinary(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("datastream %v: %v\n%s", args[0], err, out)
		}
	}
	start := time.Now().Add(-50 * time.Minute).UTC()
	run("gen", "--lines", "1500", "--seed", "7", "--start", start.Format(time.RFC3339), "--step", "2s", "--out", logPath)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(payloadLines(start.Add(10 * time.Minute))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pipeline := append([]string{"run", "--once", "--log", logPath}, env.Args()...)
	run(pipeline...)

	st := env.Store(t)
	s := dashboard.New(dashboard.Config{Listen: "127.0.0.1:0", Poll: 200 * time.Millisecond}, st)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	go s.Run(ctx, func(a string) { addr <- a }) //nolint:errcheck
	url := "http://" + <-addr + "/?range=all"

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1800),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 3*time.Minute)
	defer tcancel()

	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#panel-paths`))); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	page, err := chromedp.Run(bctx, chromedp.Evaluate[pageState](readPage))
	if err != nil {
		t.Fatal(err)
	}
	sqlInt := func(q string) string {
		var n int64
		if err := st.DB.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(n)
	}
	if want := sqlInt("SELECT COUNT(*) FROM clean_log"); page.Requests != want {
		t.Errorf("requests on the page %q, SQL %s", page.Requests, want)
	}
	if want := sqlInt("SELECT SUM(COALESCE(bytes, 0)) FROM clean_log"); page.Bytes != want {
		t.Errorf("bytes on the page %q, SQL %s", page.Bytes, want)
	}
	var visitors float64
	if err := st.DB.QueryRow("SELECT COUNT(DISTINCT remote_addr, COALESCE(user_agent, ''), DATE(ts)) FROM clean_log").Scan(&visitors); err != nil {
		t.Fatal(err)
	}
	var got float64
	fmt.Sscan(page.Visitors, &got)
	if d := (got - visitors) / visitors; d > 0.02 || d < -0.02 {
		t.Errorf("visitors on the page %v, SQL %v", got, visitors)
	}
	rows, err := st.DB.Query("SELECT path, COUNT(*) FROM clean_log WHERE path IS NOT NULL GROUP BY path ORDER BY 2 DESC, 1 LIMIT 10")
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var p, n string
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		if i >= len(page.Paths) || page.Paths[i][0] != p || page.Paths[i][1] != n {
			t.Errorf("top path %d: page %v, SQL %q %s", i, page.Paths, p, n)
		}
		i++
	}
	rows.Close()

	// New lines appear without a reload.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.__marker = 42`)); err != nil {
		t.Fatal(err)
	}
	run("gen", "--lines", "300", "--seed", "8", "--start", time.Now().Add(-2*time.Minute).UTC().Format(time.RFC3339), "--step", "100ms", "--append", "--out", logPath)
	run(pipeline...)
	committed := time.Now()
	want := sqlInt("SELECT COUNT(*) FROM clean_log")
	for {
		if page, err = chromedp.Run(bctx, chromedp.Evaluate[pageState](readPage)); err != nil {
			t.Fatal(err)
		}
		if page.Requests == want {
			break
		}
		if time.Since(committed) > time.Minute {
			t.Fatalf("the page still shows %s requests a minute after %s were committed", page.Requests, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("new rows on the page %v after the pipeline finished", time.Since(committed).Round(10*time.Millisecond))
	if page.Marker != float64(42) {
		t.Errorf("the page reloaded (marker %v)", page.Marker)
	}

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// Drilled into, the payloads' lines show as text and run nothing.
	drill := "http://" + strings.TrimPrefix(strings.Split(url, "/?")[0], "http://") + "/?range=all&field=path&value=" + neturl.QueryEscape(xssPath)
	if err := chromedp.Do(bctx, chromedp.Navigate(drill), chromedp.WaitVisible(chromedp.CSS(`#panel-paths`))); err != nil {
		t.Fatal(err)
	}
	if page, err = chromedp.Run(bctx, chromedp.Evaluate[pageState](readPage)); err != nil {
		t.Fatal(err)
	}
	if page.XSS != nil || page.Images != 0 || page.Scripts != 2 {
		t.Errorf("payload took effect: __xss %v, %d img, %d script elements", page.XSS, page.Images, page.Scripts)
	}
	if len(page.Lines) != 1 || !strings.Contains(page.Lines[0], xssPath) || !strings.Contains(page.Lines[0], "<img src=x onerror=") {
		t.Errorf("drill-down into the <script> path shows %q", page.Lines)
	}
	for _, p := range page.NotFound {
		if strings.Contains(p, "<") && p != xssPath {
			t.Errorf("404 entry altered: %q", p)
		}
	}

	_, file, _, _ := runtime.Caller(0)
	shot := filepath.Join(filepath.Dir(file), "..", "..", "bin", "dashboard.png")
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err == nil {
		if err := os.WriteFile(shot, png, 0o644); err == nil {
			t.Logf("screenshot: %s", shot)
		}
	}
}
