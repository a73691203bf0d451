package clean

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
)

// columnRunes are clean_log's widths (migrations/001_tables.sql) for the
// texts Build bounds below MEDIUMTEXT: a longer value would be refused by
// a strict server, or cut by a lax one.
var columnRunes = map[string]int{
	"RemoteAddr": 64, "RemoteUser": 255, "Session": 255, "EmailDomain": 255,
	"Method": 32, "Scheme": 16, "Host": 255, "Protocol": 32, "StatusText": 64,
	"UpstreamResponseTimes": 255, "XForwardedFor": 1024, "HostHeader": 255,
	"ServerName": 255, "SSLProtocol": 32, "UpstreamAddr": 1024,
	"UpstreamCacheStatus": 32, "RequestID": 64, "LogFormat": 64,
}

// FuzzBuild feeds attacker-shaped lines through every preset and checks
// that each row Build makes can be stored as it is: valid UTF-8 within the
// column widths, JSON that is JSON, an IP that is the address, UTC times.
func FuzzBuild(f *testing.F) {
	f.Add([]byte(`1.2.3.4 - alice@Example.org [17/May/2015:08:05:32 +0000] "GET http://h.example:8080/a?b=<script> HTTP/1.1" 200 12 "-" "ua"`))
	f.Add([]byte("::ffff:10.0.0.1 - - [17/May/2015:08:05:32 +0200] \"GET /\xff\xfe' OR 1=1 -- HTTP/1.1\" 404 - \"\xc3\" \"\\x16\\x03\""))
	f.Add([]byte(`181.53.103.203 HvAXYJ76nALAPMO student.42 [01/Nov/2022:00:13:13 -0500] "GET https://a.example:443/x.svg HTTP/1.1" 200 2652`))
	names := logformat.PresetNames()
	f.Fuzz(func(t *testing.T, data []byte) {
		line := &record.Line{ID: record.NewID([8]byte{1}, 0), ReceivedAt: time.Unix(1, 0), Data: data}
		for _, name := range names {
			p, _ := logformat.Preset(name)
			var e logformat.Entry
			if p.Parse(data, &e) != nil {
				continue
			}
			checkRow(t, name, Build(line, &e, name))
		}
	})
}

func checkRow(t *testing.T, format string, r Row) {
	t.Helper()
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		field, name := v.Field(i), v.Type().Field(i).Name
		var s string
		switch {
		case field.Kind() == reflect.String:
			s = field.String()
		case field.Type() == reflect.TypeFor[*string]() && !field.IsNil():
			s = field.Elem().String()
		default:
			continue
		}
		if !utf8.ValidString(s) {
			t.Fatalf("%s: %s is not valid UTF-8: %q", format, name, s)
		}
		if limit, ok := columnRunes[name]; ok && utf8.RuneCountInString(s) > limit {
			t.Fatalf("%s: %s has %d runes, its column holds %d", format, name, utf8.RuneCountInString(s), limit)
		}
	}
	if r.Extra != nil {
		var m map[string]*string
		if err := json.Unmarshal([]byte(*r.Extra), &m); err != nil {
			t.Fatalf("%s: extra is not a JSON object of strings: %v: %q", format, err, *r.Extra)
		}
	}
	if r.ClientIP != nil {
		ip, ok := netip.AddrFromSlice(r.ClientIP)
		if !ok || (len(r.ClientIP) != 4 && len(r.ClientIP) != 16) {
			t.Fatalf("%s: client ip %x", format, r.ClientIP)
		}
		if ip.String() != r.RemoteAddr {
			t.Fatalf("%s: client ip %s but remote_addr %q", format, ip, r.RemoteAddr)
		}
	}
	if r.Time != nil && r.Time.Location() != time.UTC {
		t.Fatalf("%s: time %v is not UTC", format, *r.Time)
	}
	if r.IsEmail != (r.EmailDomain != nil) {
		t.Fatalf("%s: is_email %v with email_domain %v", format, r.IsEmail, r.EmailDomain)
	}
}
