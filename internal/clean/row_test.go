package clean

import (
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
)

func parse(t *testing.T, format, line string) *logformat.Entry {
	t.Helper()
	f, err := logformat.Compile(logformat.Presets[format])
	if err != nil {
		t.Fatal(err)
	}
	var e logformat.Entry
	if err := f.Parse([]byte(line), &e); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return &e
}

func TestBuildProxyLine(t *testing.T) {
	// The original design's example row.
	e := parse(t, "proxy", `181.53.103.203 HvAXYJ76nALAPMO student.42 [01/Nov/2022:00:13:13 -0500] "GET https://accessmedicina.mhmedical.com:443/UI/app/img/logos/logo_187.svg HTTP/1.1" 200 2652 -`)
	line := &record.Line{ID: record.NewID([8]byte{1}, 7), SourceHost: "h", SourcePath: "/p", ReceivedAt: time.Unix(100, 0)}
	r := Build(line, e, "proxy")
	if want := time.Date(2022, 11, 1, 5, 13, 13, 0, time.UTC); r.Time == nil || !r.Time.Equal(want) {
		t.Errorf("time: got %v, want %v", r.Time, want)
	}
	checks := []struct {
		name string
		got  *string
		want string
	}{
		{"session", r.Session, "HvAXYJ76nALAPMO"},
		{"user", r.RemoteUser, "student.42"},
		{"method", r.Method, "GET"},
		{"scheme", r.Scheme, "https"},
		{"host", r.Host, "accessmedicina.mhmedical.com"},
		{"path", r.Path, "/UI/app/img/logos/logo_187.svg"},
		{"status text", r.StatusText, "OK"},
	}
	for _, c := range checks {
		if c.got == nil || *c.got != c.want {
			t.Errorf("%s: got %v, want %q", c.name, c.got, c.want)
		}
	}
	if r.Port == nil || *r.Port != 443 {
		t.Errorf("port: %v", r.Port)
	}
	if r.IsEmail || r.EmailDomain != nil {
		t.Error("student.42 is not an e-mail")
	}
	if r.Bytes == nil || *r.Bytes != 2652 {
		t.Errorf("bytes: %v", r.Bytes)
	}
	if len(r.ClientIP) != 4 || r.RemoteAddr != "181.53.103.203" {
		t.Errorf("ip: %v %q", r.ClientIP, r.RemoteAddr)
	}
	if r.Query != nil {
		t.Errorf("query should be absent: %q", *r.Query)
	}
}

func TestBuildEmailAndGarbage(t *testing.T) {
	e := parse(t, "combined", "2001:db8::1 - Alice@Example.ORG [27/Nov/2026:06:00:00 +0000] \"\\x16\\x03\\x01\" 400 0 \"-\" \"bad\xffua\"")
	r := Build(&record.Line{}, e, "combined")
	if !r.IsEmail || r.EmailDomain == nil || *r.EmailDomain != "example.org" {
		t.Errorf("email: %v %v", r.IsEmail, r.EmailDomain)
	}
	if r.Method != nil || r.Path != nil || r.Request == nil {
		t.Errorf("garbage request: method %v path %v request %v", r.Method, r.Path, r.Request)
	}
	if len(r.ClientIP) != 16 {
		t.Errorf("IPv6 client ip: %v", r.ClientIP)
	}
	if r.UserAgent == nil || *r.UserAgent != "bad\uFFFDua" {
		t.Errorf("invalid UTF-8 must become U+FFFD: %q", *r.UserAgent)
	}
	if r.Referrer != nil {
		t.Errorf("referrer '-' must be NULL")
	}
	if r.StatusText == nil || *r.StatusText != "Bad Request" {
		t.Errorf("status text: %v", r.StatusText)
	}
}

func TestBuildRemoteAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
		ipLen      int
	}{
		{"10.1.2.3", "10.1.2.3", 4},
		{"::ffff:10.1.2.3", "10.1.2.3", 4},
		{"2001:DB8::0:1", "2001:db8::1", 16},
		{"fe80::1%eth0", "fe80::1", 16},
		{"::10%\xff" + strings.Repeat("z", 100), "::10", 16},
		{"not-an-ip", "not-an-ip", 0},
		{strings.Repeat("x", 100), strings.Repeat("x", 64), 0},
	} {
		e := parse(t, "combined", tc.addr+` - - [27/Nov/2026:06:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "-"`)
		r := Build(&record.Line{}, e, "combined")
		if r.RemoteAddr != tc.want || len(r.ClientIP) != tc.ipLen {
			t.Errorf("%q: remote_addr %q client_ip %x, want %q and %d bytes", tc.addr, r.RemoteAddr, r.ClientIP, tc.want, tc.ipLen)
		}
	}
}

func TestEmailDomain(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"a@b.co", "b.co", true},
		{"student.42", "", false},
		{"@b.co", "", false},
		{"a@b", "", false},
		{"a@b.", "", false},
		{"a b@c.d", "", false},
		{"x@Mail.Example.COM", "mail.example.com", true},
	} {
		got, ok := emailDomain(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("emailDomain(%q) = %q, %v", tc.in, got, ok)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"héllo", 3, "hél"},
		{"ok", 10, "ok"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"\xff\xff\xff", 2, "\uFFFD\uFFFD"},
	} {
		if got := Text([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("Text(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// BenchmarkBuild is the clean consumer's cost per line after parsing.
//
//	go test -run XXX -bench Build -benchmem ./internal/clean
func BenchmarkBuild(b *testing.B) {
	f, err := logformat.Compile(logformat.Presets["combined"])
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`2001:db8::7 - - [27/Nov/2026:06:00:00 +0100] "GET /products/view.php?id=42&ref=home HTTP/1.1" 200 5123 "https://www.example.com/start" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"`)
	var e logformat.Entry
	if err := f.Parse(data, &e); err != nil {
		b.Fatal(err)
	}
	line := &record.Line{ID: record.NewID([8]byte{1}, 7), SourceHost: "web-1", SourcePath: "/var/log/nginx/access.log", ReceivedAt: time.Now(), Data: data}
	b.ReportAllocs()
	for b.Loop() {
		r := Build(line, &e, "combined")
		if r.UserAgent == nil {
			b.Fatal("no user agent")
		}
	}
}
