package enrich_test

import (
	"net/netip"
	"testing"
	"unicode/utf8"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/enrich"
)

// FuzzEnrich: user agents and X-Forwarded-For are written by clients. Any
// of them gives a row the database takes: valid UTF-8 within the columns'
// widths, and a client_ip of 4 or 16 bytes.
func FuzzEnrich(f *testing.F) {
	for _, s := range []string{"Mozilla/5.0 (compatible; Googlebot/2.1)", "-", "", "curl/8", "\xff\xfe", "8.8.8.8, 10.0.0.1", "::ffff:1.2.3.4%eth0, x"} {
		f.Add("181.53.103.203", s, s)
	}
	e, err := enrich.New(enrich.Options{Geo: enrich.Embedded{}, ClientIPFrom: enrich.FromXForwardedFor, AgentCache: 64, AddrCache: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, addr, ua, xff string) {
		r := clean.Row{RemoteAddr: clean.TextString(addr, 64)}
		if ip, err := netip.ParseAddr(addr); err == nil {
			r.ClientIP = ip.Unmap().WithZone("").AsSlice()
		}
		ua, xff = clean.TextString(ua, 1<<22), clean.TextString(xff, 1024)
		r.UserAgent, r.XForwardedFor = &ua, &xff
		e.Enrich(&r)
		for _, c := range []struct {
			name  string
			v     *string
			width int
		}{
			{"network", r.Network, 16}, {"country", r.Country, 2}, {"region", r.Region, 128}, {"city", r.City, 128},
			{"ua_family", r.UAFamily, 64}, {"ua_version", r.UAVersion, 16}, {"ua_os", r.UAOS, 64}, {"device", r.Device, 16}, {"bot_name", r.BotName, 64},
		} {
			if c.v != nil && (!utf8.ValidString(*c.v) || utf8.RuneCountInString(*c.v) > c.width) {
				t.Errorf("%s %q does not fit its column", c.name, *c.v)
			}
		}
		if n := len(r.ClientIP); n != 0 && n != 4 && n != 16 {
			t.Errorf("client_ip of %d bytes", n)
		}
		if r.Network == nil || r.Device == nil || !r.HasVisitor {
			t.Error("network, device or visitor missing")
		}
	})
}
