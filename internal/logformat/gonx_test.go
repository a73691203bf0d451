package logformat

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/satyrius/gonx"
)

// rawText returns the text of one variable as it should appear in the log,
// rebuilt from the typed Entry, and whether it is comparable as text.
func rawText(e *Entry, name string) ([]byte, bool) {
	switch name {
	case "remote_addr":
		return e.RemoteAddr, true
	case "remote_user":
		return e.RemoteUser, true
	case "request":
		return e.Request, true
	case "http_referer":
		return e.Referer, true
	case "http_user_agent":
		return e.UserAgent, true
	case "http_x_forwarded_for":
		return e.XForwardedFor, true
	case "host":
		return e.HostHeader, true
	case "server_name":
		return e.ServerName, true
	case "scheme":
		return e.SchemeVar, true
	case "ssl_protocol":
		return e.SSLProtocol, true
	case "upstream_addr":
		return e.UpstreamAddr, true
	case "upstream_cache_status":
		return e.UpstreamCacheStatus, true
	case "request_id":
		return e.RequestID, true
	case "upstream_response_time":
		return e.UpstreamResponseTimes, true
	case "status":
		if !e.HasStatus {
			return nil, true
		}
		return fmt.Appendf(nil, "%03d", e.Status), true
	case "body_bytes_sent":
		return intText(e.BodyBytesSent, e.HasBodyBytesSent), true
	case "bytes_sent":
		return intText(e.BytesSent, e.HasBytesSent), true
	case "request_length":
		return intText(e.RequestLength, e.HasRequestLength), true
	case "time_local", "time_iso8601", "msec", "request_time":
		return nil, false // compared numerically
	}
	return e.Get(name), true
}

func intText(n int64, ok bool) []byte {
	if !ok {
		return nil
	}
	return strconv.AppendInt(nil, n, 10)
}

// diffGonx compares the typed entry with gonx's strings, variable by variable.
// gonx does not decode escapes, so its values are decoded the same way first.
func diffGonx(f *Format, e *Entry, ge *gonx.Entry) string {
	var scratch Entry
	for _, name := range f.Vars() {
		gv, err := ge.Field(name)
		if err != nil {
			return fmt.Sprintf("gonx has no $%s", name)
		}
		switch name {
		case "time_local":
			t, err := time.Parse("02/Jan/2006:15:04:05 -0700", gv)
			if err != nil || !t.Equal(e.Time) || e.Time.Location() != time.UTC {
				return fmt.Sprintf("$time_local: gonx %q (%v), ours %v", gv, t, e.Time)
			}
			continue
		case "time_iso8601":
			t, err := time.Parse(time.RFC3339, gv)
			if err != nil || !t.Equal(e.Time) {
				return fmt.Sprintf("$time_iso8601: gonx %q, ours %v", gv, e.Time)
			}
			continue
		case "request_time":
			x, err := strconv.ParseFloat(gv, 64)
			if gv == "-" && !e.HasRequestTime {
				continue
			}
			if err != nil || math.Abs(x-e.RequestTime) > 1e-9 {
				return fmt.Sprintf("$request_time: gonx %q, ours %v", gv, e.RequestTime)
			}
			continue
		}
		ours, ok := rawText(e, name)
		if !ok {
			continue
		}
		want := []byte(gv)
		if gv == "-" || (f.escape == EscapeJSON && gv == "" && name != "request") {
			want = nil
		} else if f.escape != EscapeNone {
			want = scratch.decode(want, f.escape)
		}
		if (ours == nil) != (want == nil) || string(ours) != string(want) {
			return fmt.Sprintf("$%s: gonx %q, ours %q", name, want, ours)
		}
	}
	if e.Method != nil {
		if got := string(e.Method) + " " + string(e.URI) + " " + string(e.Protocol); got != string(e.Request) {
			return fmt.Sprintf("request parts %q do not rebuild %q", got, e.Request)
		}
	}
	return ""
}

// TestAgreeWithGonx runs every committed fixture through our parser and
// gonx and compares the fields wherever gonx parses the line. Fixture files
// are testdata/<preset>.log.
func TestAgreeWithGonx(t *testing.T) {
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			fh, err := os.Open("testdata/" + name + ".log")
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			f, _ := Preset(name)
			g := gonx.NewParser(f.String())
			var e Entry
			sc := bufio.NewScanner(fh)
			n, compared := 0, 0
			for sc.Scan() {
				n++
				line := sc.Bytes()
				if err := f.Parse(line, &e); err != nil {
					t.Errorf("line %d: %v\n%s", n, err, line)
					continue
				}
				ge, err := g.ParseString(string(line))
				if err != nil {
					continue
				}
				compared++
				if d := diffGonx(f, &e, ge); d != "" {
					t.Errorf("line %d: %s", n, d)
				}
			}
			if compared == 0 {
				t.Errorf("gonx parsed none of the %d lines", n)
			}
			t.Logf("%d lines, %d compared with gonx", n, compared)
		})
	}
}
