package logformat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustPreset(t *testing.T, name string) *Format {
	t.Helper()
	f, ok := Preset(name)
	if !ok {
		t.Fatalf("no preset %q", name)
	}
	return f
}

func mustCompile(t *testing.T, spec string) *Format {
	t.Helper()
	f, err := Compile(spec)
	if err != nil {
		t.Fatalf("Compile(%q): %v", spec, err)
	}
	return f
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// want describes the fields a test expects; "" strings mean absent (nil).
type want struct {
	time                               string
	addr, user, req, method, uri, path string
	query, proto, scheme, host, port   string
	status                             int
	body                               int64
	ref, ua, xff                       string
	extra                              map[string]string // "" value: present with nil
	emptyReq, emptyQuery               bool
}

func str(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func opt(s string) string {
	if s == "" {
		return "<nil>"
	}
	return s
}

func checkWant(t *testing.T, e *Entry, w want) {
	t.Helper()
	if w.time != "" && (!e.HasTime || !e.Time.Equal(utc(w.time)) || e.Time.Location() != time.UTC) {
		t.Errorf("time = %v (has %v), want %s", e.Time, e.HasTime, w.time)
	}
	eq := func(name string, got []byte, w string) {
		t.Helper()
		if str(got) != opt(w) {
			t.Errorf("%s = %q, want %q", name, str(got), opt(w))
		}
	}
	eq("RemoteAddr", e.RemoteAddr, w.addr)
	eq("RemoteUser", e.RemoteUser, w.user)
	if w.emptyReq {
		if e.Request == nil || len(e.Request) != 0 {
			t.Errorf("Request = %q, want empty non-nil", str(e.Request))
		}
	} else {
		eq("Request", e.Request, w.req)
	}
	eq("Method", e.Method, w.method)
	eq("URI", e.URI, w.uri)
	eq("Path", e.Path, w.path)
	if w.emptyQuery {
		if e.Query == nil || len(e.Query) != 0 {
			t.Errorf("Query = %q, want empty non-nil", str(e.Query))
		}
	} else {
		eq("Query", e.Query, w.query)
	}
	eq("Protocol", e.Protocol, w.proto)
	eq("Scheme", e.Scheme, w.scheme)
	eq("Host", e.Host, w.host)
	eq("Port", e.Port, w.port)
	if w.status != 0 && (!e.HasStatus || e.Status != w.status) {
		t.Errorf("status = %d (%v), want %d", e.Status, e.HasStatus, w.status)
	}
	if w.body >= 0 && (!e.HasBodyBytesSent || e.BodyBytesSent != w.body) {
		t.Errorf("body = %d (%v), want %d", e.BodyBytesSent, e.HasBodyBytesSent, w.body)
	}
	eq("Referer", e.Referer, w.ref)
	eq("UserAgent", e.UserAgent, w.ua)
	eq("XForwardedFor", e.XForwardedFor, w.xff)
	if len(e.Extra) != len(w.extra) {
		t.Errorf("extra = %v, want %v", e.Extra, w.extra)
	}
	for k, v := range w.extra {
		if str(e.Get(k)) != opt(v) {
			t.Errorf("extra %s = %q, want %q", k, str(e.Get(k)), opt(v))
		}
	}
}

func TestPresets(t *testing.T) {
	tests := []struct {
		preset, line string
		w            want
	}{
		{"combined", `93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"`,
			want{time: "2015-05-17T08:05:32Z", addr: "93.180.71.3", req: "GET /downloads/product_1 HTTP/1.1", method: "GET", uri: "/downloads/product_1",
				path: "/downloads/product_1", proto: "HTTP/1.1", status: 304, body: 0, ua: "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"}},
		{"common", `10.1.2.3 - frank [01/Nov/2022:00:13:13 -0500] "GET /a?x=1&y= HTTP/1.0" 200 2326`,
			want{time: "2022-11-01T05:13:13Z", addr: "10.1.2.3", user: "frank", req: "GET /a?x=1&y= HTTP/1.0", method: "GET", uri: "/a?x=1&y=",
				path: "/a", query: "x=1&y=", proto: "HTTP/1.0", status: 200, body: 2326}},
		{"main", `10.1.2.3 - - [01/Jan/2020:00:00:00 +0100] "POST /api HTTP/2.0" 201 17 "https://r/" "curl/8" "203.0.113.1, 10.0.0.1"`,
			want{time: "2019-12-31T23:00:00Z", addr: "10.1.2.3", req: "POST /api HTTP/2.0", method: "POST", uri: "/api", path: "/api", proto: "HTTP/2.0",
				status: 201, body: 17, ref: "https://r/", ua: "curl/8", xff: "203.0.113.1, 10.0.0.1"}},
		{"proxy", `187.73.220.24 Xk3Jd8aQ bob [12/Mar/2013:00:11:31 +0100] "GET http://rss.sciencedirect.com:80/publication/science/5265 HTTP/1.1" 200 203989 -`,
			want{time: "2013-03-11T23:11:31Z", addr: "187.73.220.24", user: "bob", req: "GET http://rss.sciencedirect.com:80/publication/science/5265 HTTP/1.1",
				method: "GET", uri: "http://rss.sciencedirect.com:80/publication/science/5265", scheme: "http", host: "rss.sciencedirect.com", port: "80",
				path: "/publication/science/5265", proto: "HTTP/1.1", status: 200, body: 203989, extra: map[string]string{"session": "Xk3Jd8aQ"}}},
		{"ezproxy", `235.7.192.36 - - [12/Mar/2013:00:11:42 +0100] "GET http://gate1.inist.fr:50162/login?url=http://www.sciencedirect.com/science/journal/09675868 HTTP/1.1" 302 0`,
			want{time: "2013-03-11T23:11:42Z", addr: "235.7.192.36", req: "GET http://gate1.inist.fr:50162/login?url=http://www.sciencedirect.com/science/journal/09675868 HTTP/1.1",
				method: "GET", uri: "http://gate1.inist.fr:50162/login?url=http://www.sciencedirect.com/science/journal/09675868", scheme: "http", host: "gate1.inist.fr",
				port: "50162", path: "/login", query: "url=http://www.sciencedirect.com/science/journal/09675868", proto: "HTTP/1.1", status: 302, body: 0,
				extra: map[string]string{"ident": ""}}},
		{"json", `{"time":"2022-11-01T00:13:13-05:00","remote_addr":"::1","remote_user":"","request":"GET /s?q=\"x\" HTTP/1.1","status":499,"body_bytes_sent":0,"request_time":0.123,"upstream_response_time":"0.010, 0.020 : 0.030","http_referer":"","http_user_agent":"tab\there \u00e9","http_x_forwarded_for":"","host":"h.example","request_id":"abc"}`,
			want{time: "2022-11-01T05:13:13Z", addr: "::1", req: `GET /s?q="x" HTTP/1.1`, method: "GET", uri: `/s?q="x"`, path: "/s", query: `q="x"`,
				proto: "HTTP/1.1", status: 499, body: 0, ua: "tab\there é"}},
	}
	for _, tc := range tests {
		t.Run(tc.preset, func(t *testing.T) {
			var e Entry
			if err := mustPreset(t, tc.preset).Parse([]byte(tc.line), &e); err != nil {
				t.Fatal(err)
			}
			checkWant(t, &e, tc.w)
		})
	}
}

func TestJSONPresetTimings(t *testing.T) {
	var e Entry
	line := `{"time":"2022-11-01T00:13:13-05:00","remote_addr":"::1","remote_user":"","request":"GET / HTTP/1.1","status":200,"body_bytes_sent":0,"request_time":0.123,"upstream_response_time":"0.010, 0.020 : 0.030","http_referer":"","http_user_agent":"","http_x_forwarded_for":"","host":"h.example","request_id":"abc"}`
	if err := mustPreset(t, "json").Parse([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if !e.HasRequestTime || e.RequestTime != 0.123 {
		t.Errorf("request_time %v %v", e.RequestTime, e.HasRequestTime)
	}
	if !e.HasUpstreamResponseTime || e.UpstreamResponseTime < 0.0599999 || e.UpstreamResponseTime > 0.0600001 || string(e.UpstreamResponseTimes) != "0.010, 0.020 : 0.030" {
		t.Errorf("upstream %v %v %q", e.UpstreamResponseTime, e.HasUpstreamResponseTime, e.UpstreamResponseTimes)
	}
	if string(e.HostHeader) != "h.example" || string(e.RequestID) != "abc" || e.RemoteUser != nil || e.Referer != nil {
		t.Errorf("host %q id %q user %q ref %q", e.HostHeader, e.RequestID, e.RemoteUser, e.Referer)
	}
}

// TestTypedVariables checks each known variable on its own.
func TestTypedVariables(t *testing.T) {
	f := mustCompile(t, `$remote_addr|$remote_user|$msec|$status|$body_bytes_sent|$bytes_sent|$request_length|$request_time|$upstream_response_time|`+
		`$http_referer|$http_user_agent|$http_x_forwarded_for|$host|$server_name|$scheme|$ssl_protocol|$upstream_addr|$upstream_cache_status|$request_id|$custom_var`)
	line := `10.0.0.1|u|1431849932.123|000|1|2|3|0.5|-, 0.004 : 1|r|a|x|h|s|https|TLSv1.3|10.0.0.2:80, 10.0.0.3:80 : unix:/s|HIT|rid|cv`
	var e Entry
	if err := f.Parse([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"remote_addr", string(e.RemoteAddr) == "10.0.0.1"},
		{"remote_user", string(e.RemoteUser) == "u"},
		{"msec", e.HasTime && e.Time.Equal(time.Unix(1431849932, 123e6)) && e.Time.Location() == time.UTC},
		{"status", e.HasStatus && e.Status == 0},
		{"body_bytes_sent", e.HasBodyBytesSent && e.BodyBytesSent == 1},
		{"bytes_sent", e.HasBytesSent && e.BytesSent == 2},
		{"request_length", e.HasRequestLength && e.RequestLength == 3},
		{"request_time", e.HasRequestTime && e.RequestTime == 0.5},
		{"upstream_response_time", e.HasUpstreamResponseTime && e.UpstreamResponseTime == 1.004 && string(e.UpstreamResponseTimes) == "-, 0.004 : 1"},
		{"http_referer", string(e.Referer) == "r"},
		{"http_user_agent", string(e.UserAgent) == "a"},
		{"http_x_forwarded_for", string(e.XForwardedFor) == "x"},
		{"host", string(e.HostHeader) == "h"},
		{"server_name", string(e.ServerName) == "s"},
		{"scheme", string(e.SchemeVar) == "https"},
		{"ssl_protocol", string(e.SSLProtocol) == "TLSv1.3"},
		{"upstream_addr", string(e.UpstreamAddr) == "10.0.0.2:80, 10.0.0.3:80 : unix:/s"},
		{"upstream_cache_status", string(e.UpstreamCacheStatus) == "HIT"},
		{"request_id", string(e.RequestID) == "rid"},
		{"custom_var", string(e.Get("custom_var")) == "cv" && len(e.Extra) == 1},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("$%s not parsed right: %+v", c.name, e)
		}
	}
	want := strings.Split("remote_addr remote_user msec status body_bytes_sent bytes_sent request_length request_time upstream_response_time http_referer http_user_agent http_x_forwarded_for host server_name scheme ssl_protocol upstream_addr upstream_cache_status request_id custom_var", " ")
	if got := f.Vars(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Vars = %v", got)
	}
}

func TestUpstreamListWithSpaceDelimiter(t *testing.T) {
	f := mustCompile(t, `$status $upstream_response_time $upstream_addr $request_time`)
	var e Entry
	if err := f.Parse([]byte(`502 0.010, 0.020 : 0.030 10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80 0.061`), &e); err != nil {
		t.Fatal(err)
	}
	if string(e.UpstreamResponseTimes) != "0.010, 0.020 : 0.030" || string(e.UpstreamAddr) != "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80" || e.RequestTime != 0.061 {
		t.Errorf("%q %q %v", e.UpstreamResponseTimes, e.UpstreamAddr, e.RequestTime)
	}
	if d := e.UpstreamResponseTime - 0.06; d > 1e-12 || d < -1e-12 {
		t.Errorf("sum %v", e.UpstreamResponseTime)
	}
	// Only "-" entries: the list is kept, there is no number.
	if err := f.Parse([]byte(`502 -, - 10.0.0.1:80 0.1`), &e); err != nil {
		t.Fatal(err)
	}
	if e.HasUpstreamResponseTime || string(e.UpstreamResponseTimes) != "-, -" {
		t.Errorf("%v %q", e.HasUpstreamResponseTime, e.UpstreamResponseTimes)
	}
}

func TestTimes(t *testing.T) {
	local := mustCompile(t, `[$time_local]`)
	iso := mustCompile(t, `$time_iso8601`)
	unbracketed := mustCompile(t, `$time_local $status`)
	tests := []struct {
		f    *Format
		in   string
		want string // "" = error
	}{
		{local, "[17/May/2015:08:05:32 +0000]", "2015-05-17T08:05:32Z"},
		{local, "[01/Nov/2022:00:13:13 -0500]", "2022-11-01T05:13:13Z"},
		{local, "[01/Jan/2000:01:00:00 +0130]", "1999-12-31T23:30:00Z"},
		{local, "[29/Feb/2024:12:00:00 +0000]", "2024-02-29T12:00:00Z"},
		{local, "[29/Feb/2023:12:00:00 +0000]", ""},
		{local, "[31/Apr/2023:12:00:00 +0000]", ""},
		{local, "[00/May/2015:08:05:32 +0000]", ""},
		{local, "[17/May/2015:24:05:32 +0000]", ""},
		{local, "[17/May/2015:08:60:32 +0000]", ""},
		{local, "[17/May/2015:08:05:60 +0000]", ""},
		{local, "[17/Foo/2015:08:05:32 +0000]", ""},
		{local, "[17/May/2015:08:05:32 +2400]", ""},
		{local, "[17/May/2015:08:05:32 0000]", ""},
		{local, "[17/May/2015:08:05:32]", ""},
		{local, "[17/may/2015:08:05:32 +0000]", ""},
		{iso, "2015-05-17T08:05:32+00:00", "2015-05-17T08:05:32Z"},
		{iso, "2022-11-01T00:13:13-05:00", "2022-11-01T05:13:13Z"},
		{iso, "2022-11-01T00:13:13.250Z", "2022-11-01T00:13:13.25Z"},
		{iso, "2022-13-01T00:13:13Z", ""},
		{iso, "2022-11-01T00:13:13", ""},
		{unbracketed, "17/May/2015:08:05:32 +0200 200", "2015-05-17T06:05:32Z"},
	}
	for _, tc := range tests {
		var e Entry
		err := tc.f.Parse([]byte(tc.in), &e)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: parsed as %v, want an error", tc.in, e.Time)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !e.HasTime || !e.Time.Equal(utc(tc.want)) || e.Time.Location() != time.UTC {
			t.Errorf("%q: %v, want %s", tc.in, e.Time, tc.want)
		}
	}
}

func TestRequests(t *testing.T) {
	f := mustCompile(t, `"$request"`)
	tests := []struct {
		in string
		w  want
	}{
		{`""`, want{emptyReq: true, body: -1}},
		{`"\x16\x03\x01\x00\xA5\x01"`, want{req: "\x16\x03\x01\x00\xa5\x01", body: -1}},
		{`"/index.php"`, want{req: "/index.php", body: -1}},
		{`"GET /nohttp"`, want{req: "GET /nohttp", body: -1}},
		{`"GET  HTTP/1.1"`, want{req: "GET  HTTP/1.1", body: -1}},
		{`"get / HTTP/1.1"`, want{req: "get / HTTP/1.1", body: -1}},
		{`"GET / FTP/1.0"`, want{req: "GET / FTP/1.0", body: -1}},
		{`"GET / HTTP/1.1"`, want{req: "GET / HTTP/1.1", method: "GET", uri: "/", path: "/", proto: "HTTP/1.1", body: -1}},
		{`"GET /a? HTTP/1.1"`, want{req: "GET /a? HTTP/1.1", method: "GET", uri: "/a?", path: "/a", emptyQuery: true, proto: "HTTP/1.1", body: -1}},
		{`"GET https://host:443/path?q=1 HTTP/1.1"`, want{req: "GET https://host:443/path?q=1 HTTP/1.1", method: "GET", uri: "https://host:443/path?q=1",
			scheme: "https", host: "host", port: "443", path: "/path", query: "q=1", proto: "HTTP/1.1", body: -1}},
		{`"GET http://user:pw@[2001:db8::1]:8080 HTTP/1.1"`, want{req: "GET http://user:pw@[2001:db8::1]:8080 HTTP/1.1", method: "GET",
			uri: "http://user:pw@[2001:db8::1]:8080", scheme: "http", host: "[2001:db8::1]", port: "8080", proto: "HTTP/1.1", body: -1}},
		{`"GET http://example.com?x HTTP/1.1"`, want{req: "GET http://example.com?x HTTP/1.1", method: "GET", uri: "http://example.com?x",
			scheme: "http", host: "example.com", query: "x", proto: "HTTP/1.1", body: -1}},
		{`"CONNECT example.org:443 HTTP/1.1"`, want{req: "CONNECT example.org:443 HTTP/1.1", method: "CONNECT", uri: "example.org:443",
			host: "example.org", port: "443", proto: "HTTP/1.1", body: -1}},
		{`"OPTIONS * HTTP/1.1"`, want{req: "OPTIONS * HTTP/1.1", method: "OPTIONS", uri: "*", path: "*", proto: "HTTP/1.1", body: -1}},
		// HTML and SQL in a URL are just data; a space in the URI stays in it.
		{`"GET /s?q=<script>alert('x')</script>&id=1' OR 1=1-- HTTP/1.1"`, want{req: "GET /s?q=<script>alert('x')</script>&id=1' OR 1=1-- HTTP/1.1",
			method: "GET", uri: "/s?q=<script>alert('x')</script>&id=1' OR 1=1--", path: "/s", query: "q=<script>alert('x')</script>&id=1' OR 1=1--", proto: "HTTP/1.1", body: -1}},
		{`"GET /caf\xC3\xA9/\xFF HTTP/1.1"`, want{req: "GET /café/\xff HTTP/1.1", method: "GET", uri: "/café/\xff", path: "/café/\xff", proto: "HTTP/1.1", body: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var e Entry
			if err := f.Parse([]byte(tc.in), &e); err != nil {
				t.Fatal(err)
			}
			checkWant(t, &e, tc.w)
		})
	}
}

func TestEscapes(t *testing.T) {
	tests := []struct {
		spec, line, want string
	}{
		{`"$http_user_agent"`, `"a\x22b\x5Cc\x0A"`, "a\"b\\c\n"},
		{`"$http_user_agent"`, `"apache \"quoted\" \\ end"`, `apache "quoted" \ end`},
		{`"$http_user_agent"`, `"bad \xZZ \x4"`, `bad \xZZ \x4`},
		{`"$http_user_agent"`, "\"raw \xff\xfe bytes\"", "raw \xff\xfe bytes"},
		{`escape=json '"$http_user_agent"'`, `"q\"x\\y\/z\n\t\u00e9\ud83d\ude00\u0001"`, "q\"x\\y/z\n\té😀\x01"},
		{`escape=json '"$http_user_agent"'`, `"\x41"`, `\x41`},
		{`escape=none '"$http_user_agent"'`, `"a\x22b"`, `a\x22b`},
		{`"$http_user_agent"`, `""`, ``},
	}
	for _, tc := range tests {
		f := mustCompile(t, tc.spec)
		var e Entry
		if err := f.Parse([]byte(tc.line), &e); err != nil {
			t.Errorf("%s %s: %v", tc.spec, tc.line, err)
			continue
		}
		if e.UserAgent == nil || string(e.UserAgent) != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.spec, tc.line, str(e.UserAgent), tc.want)
		}
	}
}

func TestAbsentAndEmpty(t *testing.T) {
	f := mustCompile(t, `"$remote_user" "$http_referer" $session $status`)
	var e Entry
	if err := f.Parse([]byte(`"-" "" - -`), &e); err != nil {
		t.Fatal(err)
	}
	if e.RemoteUser != nil || e.Referer == nil || len(e.Referer) != 0 || e.HasStatus {
		t.Errorf("user %q ref %q status %v", e.RemoteUser, e.Referer, e.HasStatus)
	}
	if len(e.Extra) != 1 || e.Extra[0].Name != "session" || e.Extra[0].Value != nil {
		t.Errorf("extra %+v", e.Extra)
	}
	// escape=json writes unset variables as "".
	j := mustCompile(t, `escape=json {"u":"$remote_user","s":"$session"}`)
	if err := j.Parse([]byte(`{"u":"","s":""}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.RemoteUser != nil || e.Extra[0].Value != nil {
		t.Errorf("json empty: user %q extra %+v", e.RemoteUser, e.Extra)
	}
}

func TestErrors(t *testing.T) {
	combined := mustPreset(t, "combined")
	good := `1.2.3.4 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"`
	tests := []struct {
		f          *Format
		line       string
		field      string
		pos        int
		reasonPart string
	}{
		{combined, "", "$remote_addr", 0, `no " - "`},
		{combined, "garbage", "$remote_addr", 0, `no " - "`},
		{combined, strings.Replace(good, "200", "20x", 1), "$status", 58, "3-digit"},
		{combined, strings.Replace(good, "200", "2000", 1), "$status", 58, "3-digit"},
		{combined, strings.Replace(good, " 5 ", " -5 ", 1), "$body_bytes_sent", 62, "byte count"},
		{combined, strings.Replace(good, "May", "Mai", 1), "$time_local", 13, "time"},
		{combined, strings.Replace(good, "[", "(", 1), "$remote_user", 10, `no " ["`},
		{combined, good + " extra", "end of line", len(good), "trailing"},
		{combined, strings.TrimSuffix(good, ` "-" "ua"`), "$body_bytes_sent", 62, `no " \""`},
		{mustCompile(t, `<$status>`), `[200>`, `literal "<"`, 0, `"["`},
		{mustCompile(t, `escape=json {"s":$status,"t":$request_time}`), `{"s":200,"t":1.2.3}`, "$request_time", 13, "seconds"},
	}
	for _, tc := range tests {
		var e Entry
		err := tc.f.Parse([]byte(tc.line), &e)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: err = %v, want a *ParseError", tc.line, err)
			continue
		}
		if pe.Field != tc.field || pe.Pos != tc.pos || !strings.Contains(pe.Reason, tc.reasonPart) {
			t.Errorf("%q: got %q at %d (%s), want %q at %d containing %q", tc.line, pe.Field, pe.Pos, pe.Reason, tc.field, tc.pos, tc.reasonPart)
		}
		if msg := err.Error(); !strings.Contains(msg, tc.field) || !strings.Contains(msg, "byte") {
			t.Errorf("message %q does not name the field and position", msg)
		}
		if e.HasTime || e.RemoteAddr != nil || e.HasStatus {
			t.Errorf("%q: entry not reset after the error: %+v", tc.line, e)
		}
	}
}

func TestTrailingCR(t *testing.T) {
	f := mustPreset(t, "common")
	var e Entry
	for _, end := range []string{"\r", "\r\n", "\n"} {
		if err := f.Parse([]byte(`1.2.3.4 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 5`+end), &e); err != nil || e.BodyBytesSent != 5 {
			t.Errorf("%q: %v %d", end, err, e.BodyBytesSent)
		}
	}
}

func TestForwardedFor(t *testing.T) {
	line := []byte(`10.0.0.1 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" " 203.0.113.7 , 10.0.0.2"`)
	var e Entry
	f := mustPreset(t, "main")
	if err := f.Parse(line, &e); err != nil || string(e.RemoteAddr) != "10.0.0.1" {
		t.Fatalf("plain: %v %q", err, e.RemoteAddr)
	}
	if err := f.WithForwardedFor().Parse(line, &e); err != nil || string(e.RemoteAddr) != "203.0.113.7" {
		t.Fatalf("xff: %v %q", err, e.RemoteAddr)
	}
	for _, xff := range []string{`"-"`, `"unknown"`, `""`} {
		l := []byte(strings.Replace(string(line), `" 203.0.113.7 , 10.0.0.2"`, xff, 1))
		if err := f.WithForwardedFor().Parse(l, &e); err != nil || string(e.RemoteAddr) != "10.0.0.1" {
			t.Errorf("%s: %v %q", xff, err, e.RemoteAddr)
		}
	}
}

func TestCompileForms(t *testing.T) {
	line := `1.2.3.4 [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200`
	specs := []string{
		`$remote_addr [$time_local] "$request" $status`,
		`'$remote_addr [$time_local] ' '"$request" $status'`,
		`log_format x '$remote_addr [$time_local] '
                     '"$request" $status';`,
		`log_format x escape=default "$remote_addr [$time_local] \"$request\" " '$status';`,
		`escape=default '$remote_addr [$time_local] "$request" $status'`,
		`${remote_addr} [${time_local}] "${request}" ${status}`,
		"log_format\tx '$remote_addr [$time_local] \"$request\" $status' ; ",
	}
	for _, s := range specs {
		f, err := Compile(s)
		if err != nil {
			t.Errorf("Compile(%q): %v", s, err)
			continue
		}
		var e Entry
		if err := f.Parse([]byte(line), &e); err != nil || e.Status != 200 || !e.HasTime {
			t.Errorf("Compile(%q) → %q: %v", s, f.String(), err)
		}
	}
	if f := mustCompile(t, `log_format main escape=json '{"s":$status}';`); f.Name() != "main" || f.Escape() != EscapeJSON {
		t.Errorf("name %q escape %v", f.Name(), f.Escape())
	}
	// A bare format that starts with a quote but is not all quoted strings.
	if f := mustCompile(t, `"$request" $status`); f.String() != `"$request" $status` {
		t.Errorf("bare quoted start: %q", f.String())
	}
	for _, bad := range []string{``, `   `, `no variables`, `$a$b`, `$`, `${x`, `${}`, `escape=xml '$a'`, `log_format x`, `log_format x '$a`,
		`$status $status`, `log_format x '$a'; extra`, `escape=json`} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q) succeeded", bad)
		}
	}
}

func TestFromConfigAndResolve(t *testing.T) {
	conf := `# nginx.conf
http {
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';  # the sample
    log_format json escape=json '{"s":$status}';
    server { access_log /var/log/nginx/access.log main; }
}
`
	f, err := FromConfig(conf, "main")
	if err != nil {
		t.Fatal(err)
	}
	if f.String() != Presets["main"] {
		t.Errorf("main from conf = %q", f.String())
	}
	if _, err := FromConfig(conf, "nope"); err == nil || !strings.Contains(err.Error(), "main, json") {
		t.Errorf("missing name: %v", err)
	}
	if _, err := FromConfig(conf, ""); err == nil {
		t.Error("ambiguous conf without a name succeeded")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, name string }{
		{"", "combined"}, {"combined", "combined"}, {"ezproxy", "ezproxy"}, {"auto", "auto"},
		{"@" + path + ":json", "custom"}, {`$remote_addr $status`, "custom"},
		{`log_format x '$remote_addr $status';`, "custom"},
	} {
		p, name, err := Resolve(tc.in)
		if err != nil || name != tc.name || p == nil {
			t.Errorf("Resolve(%q) = %v, %q, %v", tc.in, p, name, err)
		}
	}
	for _, bad := range []string{"nosuch", "@" + path + ":nope", "@" + dir + "/missing.conf:main", "$a$b"} {
		if _, _, err := Resolve(bad); err == nil {
			t.Errorf("Resolve(%q) succeeded", bad)
		}
	}
}

func TestDetect(t *testing.T) {
	read := func(name string) [][]byte {
		b, err := os.ReadFile("testdata/" + name + ".log")
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			out = append(out, []byte(l))
		}
		return out
	}
	for _, tc := range []struct{ fixture, want string }{
		{"combined", "combined"}, {"main", "main"}, {"json", "json"}, {"common", "ezproxy"}, {"ezproxy", "ezproxy"}, {"proxy", "proxy"},
	} {
		name, f, err := Detect(read(tc.fixture))
		if err != nil || name != tc.want || f == nil {
			t.Errorf("Detect(%s) = %q, %v", tc.fixture, name, err)
		}
	}
	// Best ratio wins even when some lines are junk.
	lines := append(read("main")[:5], []byte("junk"), []byte(""))
	if name, _, _ := Detect(lines); name != "main" {
		t.Errorf("Detect(main+junk) = %q", name)
	}
	if _, _, err := Detect([][]byte{[]byte("junk")}); err == nil {
		t.Error("Detect(junk) succeeded")
	}
	if _, _, err := Detect(nil); err == nil {
		t.Error("Detect(nil) succeeded")
	}
}

func TestAuto(t *testing.T) {
	a := NewAuto()
	var e Entry
	if a.Chosen() != "" {
		t.Fatal("chosen before any line")
	}
	if err := a.Parse([]byte("junk"), &e); err == nil {
		t.Fatal("junk parsed")
	}
	combined := []byte(`1.2.3.4 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"`)
	common := []byte(`1.2.3.4 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 5`)
	if err := a.Parse(combined, &e); err != nil || a.Chosen() != "combined" || string(e.UserAgent) != "ua" {
		t.Fatalf("%v %q", err, a.Chosen())
	}
	// A line of another shape is retried with the others, then auto moves on.
	if err := a.Parse(common, &e); err != nil || a.Chosen() != "ezproxy" {
		t.Fatalf("%v %q", err, a.Chosen())
	}
	if err := a.Parse(combined, &e); err != nil || a.Chosen() != "combined" {
		t.Fatalf("%v %q", err, a.Chosen())
	}
	err := a.Parse([]byte("junk"), &e)
	var pe *ParseError
	if !errors.As(err, &pe) || a.Chosen() != "combined" {
		t.Fatalf("junk after lock: %v, chosen %q", err, a.Chosen())
	}
}

func TestZeroAllocs(t *testing.T) {
	f := mustPreset(t, "combined")
	var e Entry
	line := []byte(`10.0.0.7 - alice [01/Nov/2022:00:13:13 -0500] "GET https://example.com:443/a\x22b?x=1 HTTP/1.1" 200 51234 "https://example.com/" "Mozilla/5.0 \x22x\x22"`)
	if err := f.Parse(line, &e); err != nil { // warms up the scratch buffer
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := f.Parse(line, &e); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocs per Parse", n)
	}
	p := mustCompile(t, `$remote_addr $session "$request" $upstream_response_time`)
	l2 := []byte(`1.2.3.4 abc "GET / HTTP/1.1" 0.1, 0.2`)
	if err := p.Parse(l2, &e); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := p.Parse(l2, &e); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocs per Parse with extras", n)
	}
}

func TestAppendJSON(t *testing.T) {
	f := mustCompile(t, `$remote_addr "$http_user_agent" $session $status`)
	var e Entry
	if err := f.Parse([]byte("1.2.3.4 \"a\\x22\\x5C\\x0A\\x01\xff\xe2\x80\xa8\" - 200"), &e); err != nil {
		t.Fatal(err)
	}
	got := string(e.AppendJSON(nil))
	want := `{"remote_addr":"1.2.3.4","status":200,"http_user_agent":"a\"\\\n\u0001\ufffd\u2028","extra":{"session":null}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
