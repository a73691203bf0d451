package loggen

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/logformat"
)

// TestRoundTrip renders lines through every preset and parses them back with
// the compiled preset: every field must come back exactly.
func TestRoundTrip(t *testing.T) {
	names := make([]string, 0, len(logformat.Presets))
	for name := range logformat.Presets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f, ok := logformat.Preset(name)
			if !ok {
				t.Fatalf("no compiled preset %q", name)
			}
			// A high hostile share so every garbage kind shows up many times.
			g, err := New(Options{Seed: 2026, Format: name, Hostile: 0.05})
			if err != nil {
				t.Fatal(err)
			}
			var e logformat.Entry
			hostile := 0
			for i := range 20000 {
				rec, line := g.Next()
				if err := f.Parse(line, &e); err != nil {
					t.Fatalf("line %d %q: %v", i, line, err)
				}
				if rec.Hostile {
					hostile++
				}
				if msg := compare(g, &rec, &e); msg != "" {
					t.Fatalf("line %d %q:\n%s\nrecord %+v", i, line, msg, rec)
				}
			}
			if hostile < 500 {
				t.Fatalf("only %d hostile lines", hostile)
			}
		})
	}
}

func compare(g *Gen, rec *Record, e *logformat.Entry) string {
	var errs []string
	check := func(field string, got []byte, want string) {
		if want == "" || want == "-" {
			if len(got) != 0 {
				errs = append(errs, field+": got "+strconv.Quote(string(got))+", want absent")
			}
			return
		}
		if string(got) != want {
			errs = append(errs, field+": got "+strconv.Quote(string(got))+", want "+strconv.Quote(want))
		}
	}
	has := g.tpl.has
	if has[vTimeLocal] || has[vTimeISO8601] {
		if want := rec.Time.Truncate(time.Second).UTC(); !e.HasTime || !e.Time.Equal(want) || e.Time.Location() != time.UTC {
			errs = append(errs, "time: got "+e.Time.String()+", want "+want.String())
		}
	}
	if has[vRemoteAddr] {
		check("remote_addr", e.RemoteAddr, rec.RemoteAddr)
	}
	if has[vRemoteUser] {
		check("remote_user", e.RemoteUser, rec.RemoteUser)
	}
	if has[vRequest] {
		if e.Request == nil || string(e.Request) != rec.Request {
			errs = append(errs, "request: got "+strconv.Quote(string(e.Request))+", want "+strconv.Quote(rec.Request))
		}
		if rec.WellFormed {
			check("method", e.Method, rec.Method)
			check("uri", e.URI, rec.URI)
			check("protocol", e.Protocol, rec.Protocol)
			check("scheme", e.Scheme, rec.Scheme)
			check("host", e.Host, rec.Host)
			check("port", e.Port, rec.Port)
			check("path", e.Path, rec.Path)
			if rec.HasQuery != (e.Query != nil) || string(e.Query) != rec.Query {
				errs = append(errs, "query: got "+strconv.Quote(string(e.Query))+", want "+strconv.Quote(rec.Query))
			}
		} else if e.Method != nil || e.URI != nil {
			errs = append(errs, "garbage request was split: method "+strconv.Quote(string(e.Method)))
		}
	}
	if has[vStatus] && (!e.HasStatus || e.Status != rec.Status) {
		errs = append(errs, "status: got "+strconv.Itoa(e.Status))
	}
	if has[vBodyBytesSent] && (!e.HasBodyBytesSent || e.BodyBytesSent != rec.BodyBytesSent) {
		errs = append(errs, "body_bytes_sent: got "+strconv.FormatInt(e.BodyBytesSent, 10))
	}
	if has[vReferer] {
		check("referer", e.Referer, rec.Referer)
	}
	if has[vUserAgent] {
		check("user_agent", e.UserAgent, rec.UserAgent)
	}
	if has[vXForwardedFor] {
		check("x_forwarded_for", e.XForwardedFor, rec.XForwardedFor)
	}
	if has[vHost] {
		check("host header", e.HostHeader, rec.HostHeader)
	}
	if has[vRequestID] {
		check("request_id", e.RequestID, rec.RequestID)
	}
	if has[vSession] {
		check("session", e.Get("session"), rec.Session)
	}
	if has[vIdent] {
		check("ident", e.Get("ident"), rec.Ident)
	}
	if has[vRequestTime] {
		if want := rec.RequestTime.Seconds(); !e.HasRequestTime || math.Abs(e.RequestTime-want) > 1e-9 {
			errs = append(errs, "request_time: got "+strconv.FormatFloat(e.RequestTime, 'f', -1, 64))
		}
	}
	if has[vUpstreamResponseTime] {
		check("upstream_response_time", e.UpstreamResponseTimes, rec.UpstreamResponseTimes)
		var sum float64
		for _, part := range strings.FieldsFunc(rec.UpstreamResponseTimes, func(r rune) bool { return r == ',' || r == ':' || r == ' ' }) {
			if x, err := strconv.ParseFloat(part, 64); err == nil {
				sum += x
			}
		}
		if math.Abs(e.UpstreamResponseTime-sum) > 1e-9 {
			errs = append(errs, "upstream_response_time sum: got "+strconv.FormatFloat(e.UpstreamResponseTime, 'f', -1, 64))
		}
	}
	return strings.Join(errs, "\n")
}
