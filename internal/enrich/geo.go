package enrich

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/phuslu/iploc"
)

// Location is what the geo databases know of a public address; empty
// fields are unknown.
type Location struct {
	Country string // ISO 3166-1 alpha-2
	Region  string
	City    string
	Lat     float64
	Lon     float64
	HasLoc  bool // Lat and Lon are known
}

// GeoLookup finds where a public address is. It is the enricher's only
// window on geo data, so tests and the embedded database plug in alike.
type GeoLookup interface {
	Lookup(ip netip.Addr) Location
}

// Embedded is the country database compiled into the binary
// (github.com/phuslu/iploc, IP2Location LITE data): every public IPv4 and
// IPv6 address, with nothing to download.
type Embedded struct{}

// Lookup implements GeoLookup.
func (Embedded) Lookup(ip netip.Addr) Location {
	c := iploc.IPCountry(ip)
	if len(c) != 2 || c == "ZZ" {
		return Location{}
	}
	return Location{Country: c}
}

// MMDB is a MaxMind-format database file (GeoLite2 City, or the
// ip-location-db flavour of it), read whole into memory so that Reload can
// swap it while lookups run on the old one.
type MMDB struct {
	path string
	r    atomic.Pointer[maxminddb.Reader]
}

// OpenMMDB opens path; a missing or corrupt file is an error naming it.
func OpenMMDB(path string) (*MMDB, error) {
	m := &MMDB{path: path}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// Path is the file the database is read from.
func (m *MMDB) Path() string { return m.path }

// Reload reads the file again; on error the database in use stays.
func (m *MMDB) Reload() error {
	b, err := os.ReadFile(m.path)
	if err != nil {
		return fmt.Errorf("geo-IP database %s: %w", m.path, err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return fmt.Errorf("geo-IP database %s is not a MaxMind .mmdb file: %w", m.path, err)
	}
	// A truncated file can pass the metadata check: look one address up.
	var probe any
	if err := r.Lookup(netip.MustParseAddr("8.8.8.8")).Decode(&probe); err != nil {
		return fmt.Errorf("geo-IP database %s is corrupt: %w", m.path, err)
	}
	m.r.Store(r)
	return nil
}

// Lookup implements GeoLookup. Both record shapes are understood:
// MaxMind's (country.iso_code, city.names.en, subdivisions, location) and
// ip-location-db's flat one (country_code, city, state1, latitude,
// longitude).
func (m *MMDB) Lookup(ip netip.Addr) Location {
	var rec map[string]any
	if err := m.r.Load().Lookup(ip).Decode(&rec); err != nil || rec == nil {
		return Location{}
	}
	var loc Location
	loc.Country = str(rec, "country_code")
	if loc.Country == "" {
		loc.Country = str(sub(rec, "country"), "iso_code")
	}
	if loc.Country == "" {
		loc.Country = str(sub(rec, "registered_country"), "iso_code")
	}
	if c, ok := rec["city"].(string); ok {
		loc.City = c
	} else {
		loc.City = str(sub(sub(rec, "city"), "names"), "en")
	}
	loc.Region = str(rec, "state1")
	if subs, ok := rec["subdivisions"].([]any); ok && len(subs) > 0 {
		if s, ok := subs[0].(map[string]any); ok {
			loc.Region = str(sub(s, "names"), "en")
		}
	}
	where := rec
	if l := sub(rec, "location"); l != nil {
		where = l
	}
	lat, ok1 := num(where["latitude"])
	lon, ok2 := num(where["longitude"])
	if ok1 && ok2 {
		loc.Lat, loc.Lon, loc.HasLoc = lat, lon, true
	}
	return loc
}

func sub(m map[string]any, k string) map[string]any {
	v, _ := m[k].(map[string]any)
	return v
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

// Geo combines the embedded country database with an optional .mmdb
// file: a country found in the file wins, and the file adds region, city
// and coordinates.
type Geo struct {
	Embedded GeoLookup
	File     GeoLookup // nil: none
}

// Lookup implements GeoLookup.
func (g Geo) Lookup(ip netip.Addr) Location {
	var loc Location
	if g.Embedded != nil {
		loc = g.Embedded.Lookup(ip)
	}
	if g.File != nil {
		f := g.File.Lookup(ip)
		if f.Country == "" {
			f.Country = loc.Country
		}
		loc = f
	}
	return loc
}

// Files looks an address up in several files in turn: ip-location-db
// ships IPv4 and IPv6 apart. The first file that knows it answers.
type Files []GeoLookup

// Lookup implements GeoLookup.
func (f Files) Lookup(ip netip.Addr) Location {
	for _, g := range f {
		if loc := g.Lookup(ip); loc != (Location{}) {
			return loc
		}
	}
	return Location{}
}
