package dashboard

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteReport prints a summary for a terminal of 80 columns. Values come
// from log lines: control characters are shown escaped so a line cannot
// move the cursor or recolour the terminal.
func WriteReport(w io.Writer, s Summary) error {
	o := s.Overview
	var b strings.Builder
	if o.Requests == 0 {
		fmt.Fprintf(&b, "no data (%s to %s UTC)\n", s.View.From.Format("2006-01-02 15:04"), s.View.To.Format("2006-01-02 15:04"))
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "Datastream report: %s to %s UTC", s.View.From.Format("2006-01-02 15:04"), s.View.To.Format("2006-01-02 15:04"))
	if s.View.Anchored {
		b.WriteString(" (newest data)")
	}
	b.WriteString("\n")
	if s.View.Host != "" {
		fmt.Fprintf(&b, "Host: %s\n", clip(s.View.Host, 70))
	}
	b.WriteString(strings.Repeat("=", 78) + "\n")
	fmt.Fprintf(&b, "%-18s %14d   %-18s %14d\n", "Requests", o.Requests, "Unique visitors", o.Visitors)
	fmt.Fprintf(&b, "%-18s %14s   %-18s %13.2f%%\n", "Bandwidth", humanBytes(o.Bytes), "Error rate", 100*o.ErrorRate)
	fmt.Fprintf(&b, "%-18s %14.2f   %-18s %14s\n", "Requests/s now", o.PerSecond, "Lag", humanSecs(o.LagSecs))
	fmt.Fprintf(&b, "%-18s %14d %14d %14d %14d\n", "2xx/3xx/4xx/5xx", o.ByClass[2], o.ByClass[3], o.ByClass[4], o.ByClass[5])
	if rt := s.RespTimes; rt.Count > 0 {
		fmt.Fprintf(&b, "%-18s p50 %.3fs  p90 %.3fs  p95 %.3fs  p99 %.3fs\n", "Response time", rt.P50, rt.P90, rt.P95, rt.P99)
	}
	for _, p := range Panels {
		es := s.Panels[p.Name]
		if len(es) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n%s\n", p.Title, strings.Repeat("-", utf8.RuneCountInString(p.Title)))
		for _, e := range es {
			pct := 100 * float64(e.N) / float64(o.Requests)
			fmt.Fprintf(&b, "%12d %5.1f%%  %s\n", e.N, pct, clip(e.Label, 58))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// clip escapes control characters and cuts s to n runes.
func clip(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count == n-1 && utf8.RuneCountInString(s) > n {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
		} else {
			b.WriteRune(r)
		}
		count++
	}
	return b.String()
}

func humanBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if f < 1024 || u == "TiB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= 1024
	}
	return ""
}

func humanSecs(s float64) string {
	switch {
	case s < 90:
		return fmt.Sprintf("%.0f s", s)
	case s < 5400:
		return fmt.Sprintf("%.0f min", s/60)
	case s < 172800:
		return fmt.Sprintf("%.1f h", s/3600)
	}
	return fmt.Sprintf("%.1f d", s/86400)
}
