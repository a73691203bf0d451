package enrich_test

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/enrich"
	"github.com/datastream/datastream/internal/enrich/enrichtest"
)

func newEnricher(t testing.TB, o enrich.Options) *enrich.Enricher {
	t.Helper()
	e, err := enrich.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func s(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func row(addr, ua string) clean.Row {
	r := clean.Row{RemoteAddr: addr}
	if ip, err := netip.ParseAddr(addr); err == nil {
		r.ClientIP = ip.AsSlice()
	}
	if ua != "\x00" {
		r.UserAgent = &ua
	}
	return r
}

// Real user agents of current browsers and of the bots and tools the
// issue names.
func TestUserAgents(t *testing.T) {
	e := newEnricher(t, enrich.Options{})
	for _, tc := range []struct {
		ua, family, version, os, device, bot string
	}{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "131", "Windows", "desktop", ""},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "133", "Linux", "desktop", ""},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari", "18", "MacOS", "desktop", ""},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari", "18", "iOS", "mobile", ""},
		{"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", "Safari", "17", "iOS", "tablet", ""},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge", "131", "Windows", "desktop", ""},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Browser", "26", "Android", "mobile", ""},
		{"Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36", "Android WebView", "120", "Android", "mobile", ""},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "<nil>", "<nil>", "<nil>", "bot", "Googlebot"},
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "<nil>", "<nil>", "<nil>", "bot", "bingbot"},
		{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", "", "", "", "bot", "GPTBot"},
		{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", "", "", "", "bot", "ClaudeBot"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", "", "", "", "bot", "Applebot"},
		{"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "", "", "", "bot", "AhrefsBot"},
		{"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "", "", "", "bot", "SemrushBot"},
		{"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "", "", "", "bot", "YandexBot"},
		{"Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)", "", "", "", "bot", "PetalBot"},
		{"Uptime-Kuma/1.23.13", "", "", "", "bot", "Uptime-Kuma"},
		{"curl/8.5.0", "", "", "", "bot", "curl"},
		{"Wget/1.21.4", "", "", "", "bot", "Wget"},
		{"python-requests/2.32.3", "", "", "", "bot", "python-requests"},
		{"Go-http-client/1.1", "", "", "", "bot", "Go-http-client"},
		{"Mozilla/5.0 zgrab/0.x", "", "", "", "bot", "zgrab"},
		{"masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "", "", "", "bot", "masscan"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 Safari/537.36 Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "", "", "", "bot", "Nuclei"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.77 Safari/537.36 Netsparker", "", "", "", "bot", "Netsparker"},
		{"Java/1.8.0_20", "", "", "", "bot", "Java"},
		{"", "<nil>", "<nil>", "<nil>", "none", "<nil>"},
		{"-", "<nil>", "<nil>", "<nil>", "none", "<nil>"},
		{"\x00", "<nil>", "<nil>", "<nil>", "none", "<nil>"}, // no $http_user_agent in the format
	} {
		for range 2 { // the slow path, then the cache
			r := row("8.8.8.8", tc.ua)
			e.Enrich(&r)
			if tc.bot == "" || tc.bot == "<nil>" {
				if tc.family != s(r.UAFamily) || tc.version != s(r.UAVersion) || tc.os != s(r.UAOS) {
					t.Errorf("%q: family %q %q, os %q; want %q %q, %q", tc.ua, s(r.UAFamily), s(r.UAVersion), s(r.UAOS), tc.family, tc.version, tc.os)
				}
			}
			if s(r.Device) != tc.device {
				t.Errorf("%q: device %q, want %q", tc.ua, s(r.Device), tc.device)
			}
			wantBot := tc.bot
			if wantBot == "" {
				wantBot = "<nil>"
			}
			if s(r.BotName) != wantBot {
				t.Errorf("%q: bot %q, want %q", tc.ua, s(r.BotName), wantBot)
			}
			switch {
			case tc.device == "none":
				if r.IsBot != nil {
					t.Errorf("%q: is_bot %v, want NULL for no user agent", tc.ua, *r.IsBot)
				}
			case r.IsBot == nil || *r.IsBot != (tc.device == "bot"):
				t.Errorf("%q: is_bot %v", tc.ua, r.IsBot)
			}
		}
	}
}

// Every example user agent of the crawler list is flagged as a bot.
func TestCrawlerListInstances(t *testing.T) {
	b, err := os.ReadFile("bots/crawler-user-agents.json")
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Pattern   string   `json:"pattern"`
		Instances []string `json:"instances"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	bots, err := enrich.LoadBots()
	if err != nil {
		t.Fatal(err)
	}
	if bots.Len() < len(list) || bots.Skipped > 0 {
		t.Errorf("%d patterns in use for %d in the list, %d skipped", bots.Len(), len(list), bots.Skipped)
	}
	n := 0
	for _, p := range list {
		for _, ua := range p.Instances {
			n++
			if bots.Match(ua) == "" {
				t.Errorf("pattern %q: instance %q not flagged", p.Pattern, ua)
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d instances", n)
	}
}

func TestGeoEmbedded(t *testing.T) {
	e := newEnricher(t, enrich.Options{Geo: enrich.Geo{Embedded: enrich.Embedded{}}})
	for _, tc := range []struct{ addr, country, network string }{
		{"8.8.8.8", "US", "public"},
		{"181.53.103.203", "CO", "public"},
		{"193.51.224.1", "FR", "public"},
		{"2001:4860:4860::8888", "US", "public"},
		{"2a01:4f8::1", "DE", "public"},
		{"2001:da8::1", "CN", "public"},
		{"10.1.2.3", "<nil>", "private"},
		{"192.168.0.1", "<nil>", "private"},
		{"fd00::1", "<nil>", "private"},
		{"100.64.0.1", "<nil>", "shared"},
		{"127.0.0.1", "<nil>", "loopback"},
		{"::1", "<nil>", "loopback"},
		{"169.254.1.1", "<nil>", "link-local"},
		{"fe80::1", "<nil>", "link-local"},
		{"192.0.2.1", "<nil>", "documentation"},
		{"203.0.113.9", "<nil>", "documentation"},
		{"2001:db8::1", "<nil>", "documentation"},
		{"240.0.0.1", "<nil>", "reserved"},
		{"0.0.0.0", "<nil>", "unspecified"},
		{"224.0.0.1", "<nil>", "link-local"},
		{"239.1.1.1", "<nil>", "multicast"},
		{"not-an-ip", "<nil>", "invalid"},
		{"", "<nil>", "invalid"},
	} {
		r := row(tc.addr, "curl/8")
		e.Enrich(&r)
		if s(r.Country) != tc.country || s(r.Network) != tc.network {
			t.Errorf("%s: country %s network %s, want %s %s", tc.addr, s(r.Country), s(r.Network), tc.country, tc.network)
		}
		if r.City != nil || r.Latitude != nil {
			t.Errorf("%s: a city without a --geoip-db file", tc.addr)
		}
	}
}

func testDB(t *testing.T, path, city string) string {
	return enrichtest.WriteMMDB(t, path, map[string]enrichtest.City{
		"181.53.103.0/24": {Country: "CO", Region: "Antioquia", City: city, Lat: 6.1719, Lon: -75.6114},
		"8.8.8.0/24":      {Country: "US", Region: "California", City: "Mountain View", Lat: 37.4056, Lon: -122.0775, Flat: true},
		"2001:4860::/32":  {Country: "CH", City: "Zürich", Lat: 47.37, Lon: 8.54},
		"193.51.224.0/24": {Region: "Île-de-France", City: "Paris", Lat: 48.85, Lon: 2.35},
	})
}

func TestGeoFile(t *testing.T) {
	db, err := enrich.OpenMMDB(testDB(t, filepath.Join(t.TempDir(), "city.mmdb"), "Itagüí"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, enrich.Options{Geo: enrich.Geo{Embedded: enrich.Embedded{}, File: db}})
	for _, tc := range []struct {
		addr, country, region, city string
		lat, lon                    float64
	}{
		{"181.53.103.203", "CO", "Antioquia", "Itagüí", 6.1719, -75.6114},
		{"8.8.8.8", "US", "California", "Mountain View", 37.4056, -122.0775}, // ip-location-db's flat shape
		{"2001:4860:4860::8888", "CH", "<nil>", "Zürich", 47.37, 8.54},       // the file's country wins
		{"193.51.224.1", "FR", "Île-de-France", "Paris", 48.85, 2.35},        // no country in the file: the embedded one
		{"2a01:4f8::1", "DE", "<nil>", "<nil>", 0, 0},                        // not in the file
	} {
		r := row(tc.addr, "")
		e.Enrich(&r)
		if s(r.Country) != tc.country || s(r.Region) != tc.region || s(r.City) != tc.city {
			t.Errorf("%s: %s / %s / %s, want %s / %s / %s", tc.addr, s(r.Country), s(r.Region), s(r.City), tc.country, tc.region, tc.city)
		}
		if tc.lat == 0 {
			if r.Latitude != nil {
				t.Errorf("%s: coordinates for an address the file lacks", tc.addr)
			}
		} else if r.Latitude == nil || r.Longitude == nil || abs(*r.Latitude-tc.lat) > 1e-4 || abs(*r.Longitude-tc.lon) > 1e-4 {
			t.Errorf("%s: coordinates %v %v, want %v %v", tc.addr, r.Latitude, r.Longitude, tc.lat, tc.lon)
		}
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestGeoFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.mmdb")
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("not a database\x00\xab\xcd\xefMaxMind.com junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	truncated := testDB(t, filepath.Join(dir, "truncated.mmdb"), "x")
	b, _ := os.ReadFile(truncated)
	if err := os.WriteFile(truncated, b[len(b)/2:], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{missing, corrupt, truncated} {
		_, err := enrich.OpenMMDB(f)
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("OpenMMDB(%s) = %v, want an error naming the file", f, err)
		}
	}
}

// A database replaced on disk (by rename, as updaters do) or signalled
// with SIGHUP is used from then on; a broken replacement keeps the old one.
func TestGeoFileReload(t *testing.T) {
	dir := t.TempDir()
	path := testDB(t, filepath.Join(dir, "city.mmdb"), "Itagüí")
	db, err := enrich.OpenMMDB(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, enrich.Options{Geo: enrich.Geo{Embedded: enrich.Embedded{}, File: db}})
	city := func() string {
		r := row("181.53.103.203", "")
		e.Enrich(&r)
		return s(r.City)
	}
	hup := make(chan os.Signal, 1)
	reloaded := make(chan error, 10)
	ctx := t.Context()
	if err := db.Watch(ctx, hup, func(err error) {
		if err == nil {
			e.Purge()
		}
		reloaded <- err
	}); err != nil {
		t.Fatal(err)
	}
	if got := city(); got != "Itagüí" {
		t.Fatalf("city %q", got)
	}
	wait := func() error {
		select {
		case err := <-reloaded:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("no reload")
			return nil
		}
	}
	// Replaced by rename: the watch.
	testDB(t, filepath.Join(dir, "new.tmp"), "Medellín")
	if err := os.Rename(filepath.Join(dir, "new.tmp"), path); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := city(); got != "Medellín" {
		t.Fatalf("after replacing the file: city %q", got)
	}
	// Rewritten in place, then SIGHUP.
	testDB(t, filepath.Join(dir, "hup.tmp"), "Envigado")
	b, _ := os.ReadFile(filepath.Join(dir, "hup.tmp"))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	for city() != "Envigado" {
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	}
	// A corrupt replacement: an error, and the database in use stays.
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	for {
		if err := wait(); err != nil {
			break
		}
	}
	if got := city(); got != "Envigado" {
		t.Fatalf("after a corrupt replacement: city %q", got)
	}
}

func TestClientIPFromXForwardedFor(t *testing.T) {
	if _, err := enrich.New(enrich.Options{ClientIPFrom: "x-real-ip"}); err == nil {
		t.Error("an unknown source was accepted")
	}
	e := newEnricher(t, enrich.Options{Geo: enrich.Embedded{}, ClientIPFrom: enrich.FromXForwardedFor})
	for _, tc := range []struct{ xff, country, ip string }{
		{"10.0.0.1, 181.53.103.203, 8.8.8.8", "CO", "181.53.103.203"}, // first public hop
		{"unknown, ::ffff:8.8.8.8", "US", "8.8.8.8"},
		{"10.0.0.1, 192.168.1.1", "<nil>", "10.9.9.9"}, // none public: remote_addr
		{"", "<nil>", "10.9.9.9"},
	} {
		r := row("10.9.9.9", "")
		if tc.xff != "" {
			r.XForwardedFor = &tc.xff
		}
		e.Enrich(&r)
		got, _ := netip.AddrFromSlice(r.ClientIP)
		if s(r.Country) != tc.country || got.String() != tc.ip {
			t.Errorf("%q: country %s client_ip %s, want %s %s", tc.xff, s(r.Country), got, tc.country, tc.ip)
		}
	}
}

// The visitor is the pair (address, user agent), and nothing else.
func TestVisitor(t *testing.T) {
	e := newEnricher(t, enrich.Options{})
	key := func(addr, ua string) [16]byte {
		r := row(addr, ua)
		e.Enrich(&r)
		if !r.HasVisitor {
			t.Fatal("no visitor")
		}
		return r.Visitor
	}
	a := key("8.8.8.8", "curl/8")
	if a != key("8.8.8.8", "curl/8") || a == key("8.8.4.4", "curl/8") || a == key("8.8.8.8", "curl/9") || key("x", "") == key("y", "") {
		t.Error("visitor keys do not follow (address, user agent)")
	}
}

// TestHugeUserAgent: a user agent over 4 KiB is classified by its head
// (one parse for any number of such lines) and still identifies its
// visitor by the whole string.
func TestHugeUserAgent(t *testing.T) {
	e := newEnricher(t, enrich.Options{})
	head := "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) "
	huge := func(tail string) string { return head + strings.Repeat("x", 1<<20) + tail }
	a, b := row("8.8.8.8", huge("a")), row("8.8.8.8", huge("b"))
	e.Enrich(&a)
	e.Enrich(&b)
	short := row("8.8.8.8", head)
	e.Enrich(&short)
	for _, r := range []clean.Row{a, b} {
		if s(r.BotName) != s(short.BotName) || s(r.Device) != s(short.Device) || r.IsBot == nil || !*r.IsBot {
			t.Errorf("huge agent: bot %q device %q, want %q %q", s(r.BotName), s(r.Device), s(short.BotName), s(short.Device))
		}
	}
	if a.Visitor == b.Visitor {
		t.Error("two huge agents that differ at the end made one visitor")
	}
}
