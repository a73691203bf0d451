package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/dashboard"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/store"
	"github.com/datastream/datastream/internal/testenv"
)

// writeRows stores n rows one every 10 s from start, through the store's
// clean writer (and so its rollups).
func writeRows(t *testing.T, st *store.Store, file byte, n int, start time.Time) {
	t.Helper()
	rows := make([]clean.Row, n)
	for i := range rows {
		ts := start.Add(time.Duration(i) * 10 * time.Second)
		path := fmt.Sprintf("/page/%d", i%7)
		status := []int{200, 200, 404, 500, 301}[i%5]
		b := int64(100 * i)
		ua := fmt.Sprintf("ua-%d", i%3)
		rows[i] = clean.Row{ID: record.NewID([8]byte{file}, int64(i)), SourceHost: "web1", SourcePath: "/a.log", ReceivedAt: ts, Time: &ts,
			RemoteAddr: fmt.Sprintf("192.0.2.%d", i%11), Path: &path, Status: &status, Bytes: &b, UserAgent: &ua, LogFormat: "combined"}
	}
	if err := st.WriteClean(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	// What the consumers and the dashboard's poll do within a second.
	if _, err := st.FoldRollups(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, srv *httptest.Server, path string, want int) map[string]any {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %v, want %d", path, resp.StatusCode, out, want)
	}
	return out
}

func newServer(t *testing.T, cfg dashboard.Config, d dashboard.Data) *httptest.Server {
	srv := httptest.NewServer(dashboard.New(cfg, d))
	t.Cleanup(srv.Close)
	return srv
}

func TestAPIEmptyDatabase(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	srv := newServer(t, dashboard.Config{}, st)
	for _, p := range []string{"/api/overview?range=all", "/api/overview", "/api/requests?range=15m", "/api/response-times", "/api/lines", "/api/summary?range=7d"} {
		get(t, srv, p, 200)
	}
	for _, p := range dashboard.Panels {
		out := get(t, srv, "/api/top/"+p.Name+"?range=all", 200)
		if es := out["data"].(map[string]any)["entries"].([]any); len(es) != 0 {
			t.Errorf("%s on an empty database: %v", p.Name, es)
		}
	}
	var buf strings.Builder
	v, err := dashboard.Resolve(context.Background(), st, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := dashboard.Summarize(context.Background(), st, v, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := dashboard.WriteReport(&buf, sum); err != nil || !strings.HasPrefix(buf.String(), "no data") {
		t.Fatalf("report on an empty database: %q, %v", buf.String(), err)
	}
}

func TestAPIMatchesSQL(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	start := time.Date(2025, 6, 1, 23, 0, 0, 0, time.UTC)
	writeRows(t, st, 1, 700, start) // about two hours over midnight
	srv := newServer(t, dashboard.Config{}, st)
	db := st.DB
	count := func(q string, args ...any) float64 {
		var n float64
		if err := db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	ov := get(t, srv, "/api/overview?range=all", 200)["data"].(map[string]any)
	if got, want := ov["requests"].(float64), count("SELECT COUNT(*) FROM clean_log"); got != want {
		t.Errorf("requests %v, SQL %v", got, want)
	}
	if got, want := ov["bytes"].(float64), count("SELECT SUM(bytes) FROM clean_log"); got != want {
		t.Errorf("bytes %v, SQL %v", got, want)
	}
	if got, want := ov["visitors"].(float64), count("SELECT COUNT(DISTINCT remote_addr, user_agent, DATE(ts)) FROM clean_log"); got != want {
		t.Errorf("visitors %v, SQL %v (small sets are exact)", got, want)
	}

	// "last 1h" of an old log counts back from its newest line.
	res := get(t, srv, "/api/overview?range=1h&status=4xx", 200)
	view := res["view"].(map[string]any)
	if view["anchored"] != true {
		t.Errorf("an old log's last hour should be anchored to its newest line: %v", view)
	}
	from, _ := time.Parse(time.RFC3339, view["from"].(string))
	to, _ := time.Parse(time.RFC3339, view["to"].(string))
	if got, want := res["data"].(map[string]any)["requests"].(float64), count("SELECT COUNT(*) FROM clean_log WHERE ts >= ? AND ts < ? AND status BETWEEN 400 AND 499", from, to); got != want || want == 0 {
		t.Errorf("4xx in the last hour %v, SQL %v", got, want)
	}

	top := get(t, srv, "/api/top/paths?range=custom&from=2025-06-01T23:17:00Z&to=2025-06-02T00:43:00Z&limit=3", 200)
	es := top["data"].(map[string]any)["entries"].([]any)
	rows, err := db.Query("SELECT path, COUNT(*) FROM clean_log WHERE ts >= '2025-06-01 23:17' AND ts < '2025-06-02 00:43' GROUP BY path ORDER BY 2 DESC, 1 LIMIT 3")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var p string
		var n float64
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		e := es[i].(map[string]any)
		if e["value"] != p || e["n"] != n {
			t.Errorf("top path %d: %v, SQL %s %v", i, e, p, n)
		}
		i++
	}
	if i != 3 || len(es) != 3 {
		t.Errorf("%d top paths from SQL, %d from the API", i, len(es))
	}

	// A range with no rows.
	empty := get(t, srv, "/api/overview?range=custom&from=1999-01-01&to=1999-01-02", 200)["data"].(map[string]any)
	if empty["requests"].(float64) != 0 {
		t.Errorf("requests in 1999: %v", empty["requests"])
	}
	lines := get(t, srv, "/api/lines?range=all&field=path&value=/page/3&limit=5", 200)["data"].([]any)
	if len(lines) != 5 {
		t.Errorf("drill-down: %d lines, want 5", len(lines))
	}
}

func TestAPIBadParameters(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	srv := newServer(t, dashboard.Config{}, st)
	for _, q := range []string{
		"range=2w", "range=0m", "status=6xx", "bots=maybe", "country=france", "limit=0", "limit=x",
		"range=custom&from=2025-01-02&to=2025-01-01", "range=custom&from=yesterday&to=2025-01-01", "field=password", "nope=1",
	} {
		out := get(t, srv, "/api/overview?"+q, 400)
		if msg, _ := out["error"].(string); msg == "" {
			t.Errorf("%s: 400 without a message", q)
		}
	}
	get(t, srv, "/api/top/nosuchpanel", 404)
}

func TestAuthAndHeaders(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	srv := newServer(t, dashboard.Config{AuthToken: "s3cret"}, st)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("without the token: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	get(t, srv, "/api/overview?token=s3cret", 200)
	req, _ := http.NewRequest("GET", srv.URL+"/api/overview", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("bearer token: %v %v", resp, err)
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		listen, token string
		ok            bool
	}{
		{"127.0.0.1:8080", "", true},
		{"localhost:8080", "", true},
		{"[::1]:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"0.0.0.0:8080", "t", true},
		{"nonsense", "t", false},
	} {
		err := dashboard.Config{Listen: c.listen, AuthToken: c.token}.CheckListen()
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, token %q) = %v", c.listen, c.token, err)
		}
	}
}

func TestEventsOnNewRows(t *testing.T) {
	env := testenv.Parallel(t)
	st := env.Store(t)
	s := dashboard.New(dashboard.Config{Listen: "127.0.0.1:0", Poll: 100 * time.Millisecond}, st)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(a string) { addr <- a }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	resp, err := http.Get("http://" + <-addr + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
	}()
	first := <-events
	writeRows(t, st, 2, 10, time.Now().Add(-time.Minute))
	select {
	case v := <-events:
		if v == first {
			t.Fatalf("same version after new rows: %s", v)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no change event after new rows")
	}
}
