package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/dashboard"
)

func init() {
	register("dashboard", "serve the live dashboard and its JSON API (read from the rollups)", runDashboard)
	register("report", "print the dashboard's summary in the terminal (--json for scripts)", runReport)
	register("rollup", "check or rebuild the per-minute rollups from clean_log", runRollup)
}

func runDashboard(ctx context.Context, args []string) error {
	var s settings
	var cfg dashboard.Config
	fs, err := newFlags("dashboard", "dashboard [--listen 127.0.0.1:8080] [--auth-token T] [flags]", &s)
	if err != nil {
		return err
	}
	fs.String(&cfg.Listen, "listen", "127.0.0.1:8080", "address to serve on; beyond localhost needs --auth-token or DASHBOARD_BASIC_AUTH")
	fs.String(&cfg.AuthToken, "auth-token", os.Getenv("DASHBOARD_TOKEN"), "token the browser must present once as ?token= (env DASHBOARD_TOKEN)")
	fs.Duration(&cfg.Poll, "poll", time.Second, "how often to look for new rows to push to open pages")
	if err := parse(fs, &s, args); err != nil {
		return err
	}
	if ba := os.Getenv("DASHBOARD_BASIC_AUTH"); ba != "" {
		u, p, ok := strings.Cut(ba, ":")
		if !ok || u == "" || p == "" {
			return fmt.Errorf("DASHBOARD_BASIC_AUTH must be user:password")
		}
		cfg.BasicUser, cfg.BasicPassword = u, p
	}
	if err := cfg.CheckListen(); err != nil {
		return err
	}
	st, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return dashboard.New(cfg, st).Run(ctx, func(addr string) {
		fmt.Printf("Dashboard on http://%s/\n", addr)
	})
}

func runReport(ctx context.Context, args []string) error {
	var s settings
	var since, host string
	var asJSON bool
	var limit int
	fs, err := newFlags("report", "report [--since 1h] [--host H] [--json] [flags]", &s)
	if err != nil {
		return err
	}
	fs.String(&since, "since", "all", "window: all, a duration (15m, 1h, 24h, 7d, 90m, 30d) counted back from now or from the newest line when older, or an RFC 3339 time")
	fs.String(&host, "host", "", "only this host (virtual host, else the log's machine)")
	fs.Bool(&asJSON, "json", false, "write the summary as JSON")
	fs.Int(&limit, "top", 10, "entries per list")
	if err := parse(fs, &s, args); err != nil {
		return err
	}
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if host != "" {
		q.Set("host", host)
	}
	now := time.Now()
	if t, err := time.Parse(time.RFC3339, since); err == nil {
		q.Set("range", "custom")
		q.Set("from", t.Format(time.RFC3339))
		q.Set("to", now.Add(time.Minute).UTC().Format(time.RFC3339))
	} else {
		q.Set("range", since)
	}
	st, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.FoldRollups(ctx); err != nil {
		return err
	}
	v, err := dashboard.Resolve(ctx, st, q, now)
	if err != nil {
		return err
	}
	sum, err := dashboard.Summarize(ctx, st, v, now)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	return dashboard.WriteReport(os.Stdout, sum)
}

func runRollup(ctx context.Context, args []string) error {
	var s settings
	var rebuild, check bool
	var since string
	fs, err := newFlags("rollup", "rollup --rebuild [--since T] | --check [flags]", &s)
	if err != nil {
		return err
	}
	fs.Bool(&rebuild, "rebuild", false, "recompute the rollups from clean_log (stop the clean consumers first)")
	fs.String(&since, "since", "", "with --rebuild: only from the start of this day (RFC 3339 time or YYYY-MM-DD, UTC)")
	fs.Bool(&check, "check", false, "compare the rollups with clean_log and list differences (scans clean_log)")
	if err := parse(fs, &s, args); err != nil {
		return err
	}
	if rebuild == check {
		return fmt.Errorf("give --rebuild or --check")
	}
	var from time.Time
	if since != "" {
		if from, err = time.Parse(time.RFC3339, since); err != nil {
			if from, err = time.Parse("2006-01-02", since); err != nil {
				return fmt.Errorf("--since %q: want an RFC 3339 time or YYYY-MM-DD", since)
			}
		}
	}
	st, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if rebuild {
		start := time.Now()
		n, err := st.RebuildRollups(ctx, from)
		if err != nil {
			return err
		}
		fmt.Printf("rollups rebuilt from %d rows of %s in %s\n", n, s.CleanTable, time.Since(start).Round(time.Millisecond))
		return nil
	}
	diffs, err := st.CheckRollups(ctx)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		fmt.Println(d)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the rollups differ from %s", s.CleanTable)
	}
	fmt.Println("rollups equal clean_log")
	return nil
}
