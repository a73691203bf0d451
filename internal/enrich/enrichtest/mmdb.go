// Package enrichtest writes small MaxMind-format databases for tests, so
// that no test downloads one.
package enrichtest

import (
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// City is one network's record.
type City struct {
	Country, Region, City string
	Lat, Lon              float64
	// Flat writes ip-location-db's shape (country_code, city, state1,
	// latitude, longitude) instead of MaxMind's nested one.
	Flat bool
}

// WriteMMDB writes a City database with the given networks (CIDR → record)
// to path and returns path.
func WriteMMDB(t testing.TB, path string, networks map[string]City) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 28, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, c := range networks {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, record(c)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func record(c City) mmdbtype.Map {
	if c.Flat {
		return mmdbtype.Map{
			"country_code": mmdbtype.String(c.Country),
			"city":         mmdbtype.String(c.City),
			"state1":       mmdbtype.String(c.Region),
			"latitude":     mmdbtype.Float32(c.Lat),
			"longitude":    mmdbtype.Float32(c.Lon),
		}
	}
	names := func(s string) mmdbtype.Map { return mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(s)}} }
	m := mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String(c.Country)},
		"city":         names(c.City),
		"subdivisions": mmdbtype.Slice{names(c.Region)},
		"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(c.Lat), "longitude": mmdbtype.Float64(c.Lon)},
	}
	return m
}
