// Package enrich fills the enrichment columns of a clean row offline:
// network class, country, region, city and coordinates of the client
// address, browser, OS, device and bot from the user agent, and the key of
// the visitor whose requests make visits. Like internal/logformat it does
// no I/O of its own: the geo databases are injected, and answers are cached
// per user agent and per address, so a line of real traffic costs two map
// lookups.
package enrich

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/datastream/datastream/internal/clean"
)

// Where the client address comes from.
const (
	FromRemoteAddr    = "remote_addr"
	FromXForwardedFor = "x-forwarded-for"
)

// Options configure an Enricher.
type Options struct {
	Geo GeoLookup // nil: no geo lookups (network class only)
	// ClientIPFrom is FromRemoteAddr (default) or FromXForwardedFor: the
	// first public address of $http_x_forwarded_for, for a server behind
	// a proxy (remote_addr when the header has none).
	ClientIPFrom string
	// Cache sizes; 0 for the defaults.
	AgentCache, AddrCache int
}

// Enricher fills a row's enrichment fields. Safe for concurrent use.
type Enricher struct {
	geo    GeoLookup
	agents *Agents
	xff    bool
	ua     *lru[string, *agentInfo]
	addr   *lru[netip.Addr, *geoInfo]
}

// agentInfo is a cached Agent as the row's pointers want it: rows share
// these strings, which is why a cache hit allocates nothing.
type agentInfo struct {
	family, version, os, device, bot *string
	isBot                            *bool
	hash                             [16]byte // of the user agent, for the visitor key
}

type geoInfo struct {
	network, country, region, city *string
	lat, lon                       *float64
}

// New builds an Enricher.
func New(o Options) (*Enricher, error) {
	switch o.ClientIPFrom {
	case "", FromRemoteAddr, FromXForwardedFor:
	default:
		return nil, fmt.Errorf("client address from %q: want %s or %s", o.ClientIPFrom, FromRemoteAddr, FromXForwardedFor)
	}
	a, err := NewAgents()
	if err != nil {
		return nil, err
	}
	if o.AgentCache <= 0 {
		o.AgentCache = 16384
	}
	if o.AddrCache <= 0 {
		o.AddrCache = 65536
	}
	return &Enricher{
		geo: o.Geo, agents: a, xff: o.ClientIPFrom == FromXForwardedFor,
		ua: newLRU[string, *agentInfo](o.AgentCache), addr: newLRU[netip.Addr, *geoInfo](o.AddrCache),
	}, nil
}

// Purge forgets the cached addresses: call it after the geo database was
// replaced.
func (e *Enricher) Purge() { e.addr.clear() }

// Enrich fills r's enrichment fields from its address and user agent.
func (e *Enricher) Enrich(r *clean.Row) {
	ip := e.clientIP(r)
	g := e.place(ip)
	r.Network, r.Country, r.Region, r.City, r.Latitude, r.Longitude = g.network, g.country, g.region, g.city, g.lat, g.lon

	var ua string
	if r.UserAgent != nil {
		ua = *r.UserAgent
	}
	a := e.agent(ua)
	r.UAFamily, r.UAVersion, r.UAOS, r.Device, r.BotName, r.IsBot = a.family, a.version, a.os, a.device, a.bot, a.isBot

	// The visitor: user agent hash and address, hashed again so the key
	// is fixed-size and says nothing readable.
	var buf [16 + 64]byte
	n := copy(buf[:], a.hash[:])
	if ip.IsValid() {
		b := ip.As16()
		n += copy(buf[n:], b[:])
	} else {
		n += copy(buf[n:], r.RemoteAddr)
	}
	sum := sha256.Sum256(buf[:n])
	copy(r.Visitor[:], sum[:16])
	r.HasVisitor = true
}

// clientIP is the address the row is about: remote_addr, or with
// --client-ip-from x-forwarded-for the header's first public hop (which
// then also becomes the row's client_ip).
func (e *Enricher) clientIP(r *clean.Row) netip.Addr {
	ip, _ := netip.AddrFromSlice(r.ClientIP)
	if !e.xff || r.XForwardedFor == nil {
		return ip
	}
	for hop := range strings.SplitSeq(*r.XForwardedFor, ",") {
		h, err := netip.ParseAddr(strings.TrimSpace(hop))
		if err != nil {
			continue
		}
		h = h.Unmap().WithZone("")
		if Network(h) == NetPublic {
			r.ClientIP = h.AsSlice()
			return h
		}
	}
	return ip
}

// Shared answers for addresses that are never looked up, and the network
// class public addresses share.
var netClass = func() map[string]*geoInfo {
	m := map[string]*geoInfo{}
	for _, n := range []string{NetPublic, NetPrivate, NetShared, NetLoopback, NetLinkLocal, NetMulticast, NetDocumentation, NetReserved, NetUnspecified, NetInvalid} {
		m[n] = &geoInfo{network: &n}
	}
	return m
}()

func (e *Enricher) place(ip netip.Addr) *geoInfo {
	if g, ok := e.addr.get(ip); ok {
		return g
	}
	class := Network(ip)
	if class != NetPublic {
		return netClass[class]
	}
	g := &geoInfo{network: netClass[NetPublic].network}
	if e.geo != nil {
		loc := e.geo.Lookup(ip)
		g.country, g.region, g.city = nonEmpty(loc.Country, 2), nonEmpty(loc.Region, 128), nonEmpty(loc.City, 128)
		if loc.HasLoc {
			g.lat, g.lon = &loc.Lat, &loc.Lon
		}
	}
	e.addr.put(ip, g)
	return g
}

// maxAgent is the most of a user agent that is classified and cached:
// real ones are a few hundred bytes, and a line may carry a megabyte.
const maxAgent = 4096

func (e *Enricher) agent(ua string) *agentInfo {
	if len(ua) > maxAgent {
		// Classified by its head (cached), so a client sending huge user
		// agents costs a hash per line rather than the whole parse; the
		// visitor is still the whole string.
		a := *e.agent(ua[:maxAgent])
		a.hash = agentHash(ua)
		return &a
	}
	if a, ok := e.ua.get(ua); ok {
		return a
	}
	ag := e.agents.Parse(ua)
	a := &agentInfo{
		family: nonEmpty(ag.Family, 64), version: nonEmpty(ag.Version, 16), os: nonEmpty(ag.OS, 64),
		device: nonEmpty(ag.Device, 16), bot: nonEmpty(ag.Bot, 64),
	}
	if ag.Device != DeviceNone {
		a.isBot = &ag.IsBot
	}
	a.hash = agentHash(ua)
	e.ua.put(strings.Clone(ua), a)
	return a
}

// agentHash is the hash of a user agent the visitor key takes, written
// from the string (a huge agent is hashed on every line: no copy of it).
func agentHash(ua string) (h [16]byte) {
	d := sha256.New()
	io.WriteString(d, ua) //nolint:errcheck // a hash never fails to write
	copy(h[:], d.Sum(nil))
	return h
}

// nonEmpty is nil for "", else s cut to max runes (the column's width).
func nonEmpty(s string, max int) *string {
	if s == "" {
		return nil
	}
	v := clean.TextString(s, max)
	return &v
}
