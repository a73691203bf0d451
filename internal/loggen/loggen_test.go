package loggen

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestDeterministic(t *testing.T) {
	for _, f := range []string{"combined", "json", "proxy"} {
		a, _ := New(Options{Seed: 42, Format: f})
		b, _ := New(Options{Seed: 42, Format: f})
		c, _ := New(Options{Seed: 43, Format: f})
		same := true
		for i := range 2000 {
			_, la := a.Next()
			la = bytes.Clone(la)
			_, lb := b.Next()
			_, lc := c.Next()
			if !bytes.Equal(la, lb) {
				t.Fatalf("%s line %d differs for the same seed:\n%s\n%s", f, i, la, lb)
			}
			same = same && bytes.Equal(la, lc)
		}
		if same {
			t.Fatalf("%s: seeds 42 and 43 gave the same lines", f)
		}
	}
}

func TestEscaping(t *testing.T) {
	for _, tc := range []struct {
		in   string
		esc  escapeMode
		want string
	}{
		{`plain /a?b=c`, escDefault, `plain /a?b=c`},
		{"q=\"x\"\\", escDefault, `q=\x22x\x22\x5C`},
		{"\x16\x03\x01\x00\xf5\x7f\x1f ", escDefault, `\x16\x03\x01\x00\xF5\x7F\x1F `},
		{"caf\u00e9", escDefault, `caf\xC3\xA9`},
		{"q=\"x\"\\", escJSON, `q=\"x\"\\`},
		{"\x16\t\n\r\b\f\x01\x7f\xc3\xa9", escJSON, "\\u0016\\t\\n\\r\\b\\f\\u0001\x7f\xc3\xa9"},
		{"a\"\\\x01", escNone, "a\"\\\x01"},
	} {
		if got := string(appendEscaped(nil, tc.in, tc.esc)); got != tc.want {
			t.Errorf("escape(%q, %d) = %q, want %q", tc.in, tc.esc, got, tc.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	for _, tc := range []struct {
		spec, want string
	}{
		{`$remote_addr [$time_local] "$request" $status`, `203.0.113.9 [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200`},
		{`escape=json '{"a":"$remote_addr",' '"s":$status,"u":"$remote_user"}'`, `{"a":"203.0.113.9","s":200,"u":""}`},
		{`${remote_addr}x $remote_user $nosuchvar`, `203.0.113.9x - -`},
	} {
		g, err := New(Options{Format: tc.spec})
		if err != nil {
			t.Fatal(err)
		}
		rec := Record{RemoteAddr: "203.0.113.9", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Request: "GET / HTTP/1.1", Status: 200}
		if got := string(g.render(nil, &rec)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.spec, got, tc.want)
		}
	}
}

func TestMix(t *testing.T) {
	g, _ := New(Options{Seed: 1, Format: "combined"})
	const n = 200000
	status := map[int]int{}
	hostile, v6, bots, users := 0, 0, 0, 0
	for range n {
		rec, _ := g.Next()
		status[rec.Status]++
		if rec.Hostile {
			hostile++
		}
		if bytes.IndexByte([]byte(rec.RemoteAddr), ':') >= 0 {
			v6++
		}
		if bytes.Contains([]byte(rec.UserAgent), []byte("bot")) {
			bots++
		}
		if rec.RemoteUser != "" {
			users++
		}
	}
	share := func(k int) float64 { return float64(k) / n }
	for _, c := range []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"hostile", share(hostile), 0.007, 0.013},
		{"200", share(status[200]), 0.6, 0.9},
		{"304", share(status[304]), 0.02, 0.15},
		{"404", share(status[404]), 0.02, 0.1},
		{"500", share(status[500]), 0.002, 0.03},
		{"ipv6", share(v6), 0.03, 0.4},
		{"bots", share(bots), 0.01, 0.3},
		{"users", share(users), 0.005, 0.2},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s share %.4f outside [%v, %v]", c.name, c.got, c.lo, c.hi)
		}
	}
	t.Logf("status mix %v", status)
}

func BenchmarkNext(b *testing.B) {
	for _, f := range []string{"combined", "json"} {
		b.Run(f, func(b *testing.B) {
			g, _ := New(Options{Seed: 1, Format: f})
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = g.AppendNext(buf[:0])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

func ExampleGen_Next() {
	g, err := New(Options{Seed: 7, Format: "combined", Zone: time.UTC})
	if err != nil {
		panic(err)
	}
	for range 3 {
		_, line := g.Next()
		fmt.Println(string(line))
	}
	// Output:
	// 1.225.236.210 - - [01/Jan/2026:00:00:00 +0000] "GET /blog/2026/11/real-time-log-analysis HTTP/1.1" 200 17522 "-" "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
	// 43.150.216.48 - - [01/Jan/2026:00:00:00 +0000] "GET /static/fonts/inter-var.woff2 HTTP/1.1" 401 12546 "https://search.yahoo.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0"
	// 210.254.179.154 - - [01/Jan/2026:00:00:00 +0000] "GET /login HTTP/1.1" 200 27202 "-" "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
}
