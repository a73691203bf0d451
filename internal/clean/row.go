// Package clean turns a parsed line into the typed row of clean_log: UTC
// time, IP, user and whether it is an e-mail, the URL in parts, status and
// its text, sizes, and the enrichment columns. It is pure: no I/O.
package clean

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
)

// Row is one clean_log row. Pointers and empty strings with a Has flag are
// NULL when absent, so "absent" never reads as "zero".
type Row struct {
	ID record.ID
	// Where the line comes from, as the line says: the store turns them
	// into a log_source id, once per source, and makes them fit there.
	SourceHost string
	SourcePath string
	SourceInID bool // see record.Line
	ReceivedAt time.Time
	Time       *time.Time

	RemoteAddr  string
	ClientIP    []byte // 4 or 16 bytes, nil when RemoteAddr is not an IP
	RemoteUser  *string
	Session     *string
	IsEmail     bool
	EmailDomain *string

	Request, Method, URL, Scheme, Host *string
	Port                               *uint16
	Path, Query, Protocol              *string

	Status     *int
	StatusText *string

	Bytes, BytesSent, RequestLength     *int64
	RequestTime, UpstreamResponseTime   *float64
	UpstreamResponseTimes               *string
	Referrer, UserAgent, XForwardedFor  *string
	HostHeader, ServerName, SSLProtocol *string
	UpstreamAddr, UpstreamCacheStatus   *string
	RequestID                           *string

	// Enrichment: nil until an enricher (internal/enrich) fills them.
	Country, City, BotName, UAFamily, UAOS, Device *string
	IsBot                                          *bool
	Network, Region, UAVersion                     *string
	Latitude, Longitude                            *float64
	// Visitor identifies the (client address, user agent) pair whose
	// requests make visits; the store turns it into visit_id. Zero when
	// HasVisitor is false (enrichment off).
	Visitor    [16]byte
	HasVisitor bool

	Extra     *string // JSON object of the format's other variables
	LogFormat string
}

// Build makes the row of line from its parsed entry.
func Build(line *record.Line, e *logformat.Entry, format string) Row {
	r := Row{
		ID:         line.ID,
		SourceHost: line.SourceHost,
		SourcePath: line.SourcePath,
		SourceInID: line.SourceInID,
		ReceivedAt: line.ReceivedAt.UTC(),
		LogFormat:  TextString(format, 64),
	}
	if e.HasTime {
		t := e.Time.UTC()
		r.Time = &t
	}
	if ip, err := netip.ParseAddr(string(e.RemoteAddr)); err == nil {
		// A zone ("fe80::1%eth0") names an interface of the logging host,
		// not the client, and may hold any bytes: drop it, so remote_addr
		// is the address client_ip holds.
		ip = ip.Unmap().WithZone("")
		r.ClientIP = ip.AsSlice()
		r.RemoteAddr = ip.String()
	} else {
		r.RemoteAddr = Text(e.RemoteAddr, 64)
	}
	r.RemoteUser = opt(e.RemoteUser, 255)
	r.Session = opt(e.Get("session"), 255)
	if r.RemoteUser != nil {
		if domain, ok := emailDomain(*r.RemoteUser); ok {
			r.IsEmail = true
			r.EmailDomain = &domain
		}
	}

	r.Request = opt(e.Request, 1<<22)
	r.Method = opt(e.Method, 32)
	r.URL = opt(e.URI, 1<<22)
	r.Scheme = opt(e.Scheme, 16)
	r.Host = opt(e.Host, 255)
	if r.Host == nil {
		r.Host = opt(e.HostHeader, 255)
	}
	if len(e.Port) > 0 {
		if p, err := strconv.ParseUint(string(e.Port), 10, 16); err == nil {
			port := uint16(p)
			r.Port = &port
		}
	} else if r.Scheme != nil && e.Host != nil {
		// An absolute URI without a port uses its scheme's default.
		var port uint16
		switch strings.ToLower(*r.Scheme) {
		case "http":
			port = 80
		case "https":
			port = 443
		}
		if port != 0 {
			r.Port = &port
		}
	}
	r.Path = opt(e.Path, 1<<22)
	r.Query = opt(e.Query, 1<<22)
	r.Protocol = opt(e.Protocol, 32)

	if e.HasStatus {
		st := e.Status
		r.Status = &st
		if text := http.StatusText(st); text != "" {
			r.StatusText = &text
		}
	}
	r.Bytes = optInt(e.BodyBytesSent, e.HasBodyBytesSent)
	r.BytesSent = optInt(e.BytesSent, e.HasBytesSent)
	r.RequestLength = optInt(e.RequestLength, e.HasRequestLength)
	r.RequestTime = optFloat(e.RequestTime, e.HasRequestTime)
	r.UpstreamResponseTime = optFloat(e.UpstreamResponseTime, e.HasUpstreamResponseTime)
	r.UpstreamResponseTimes = opt(e.UpstreamResponseTimes, 255)
	r.Referrer = opt(e.Referer, 1<<22)
	r.UserAgent = opt(e.UserAgent, 1<<22)
	r.XForwardedFor = opt(e.XForwardedFor, 1024)
	r.HostHeader = opt(e.HostHeader, 255)
	r.ServerName = opt(e.ServerName, 255)
	r.SSLProtocol = opt(e.SSLProtocol, 32)
	r.UpstreamAddr = opt(e.UpstreamAddr, 1024)
	r.UpstreamCacheStatus = opt(e.UpstreamCacheStatus, 32)
	r.RequestID = opt(e.RequestID, 64)

	if len(e.Extra) > 0 {
		m := make(map[string]*string, len(e.Extra))
		for _, f := range e.Extra {
			m[f.Name] = opt(f.Value, 1<<16)
		}
		if b, err := json.Marshal(m); err == nil {
			s := string(b)
			r.Extra = &s
		}
	}
	return r
}

func opt(b []byte, maxRunes int) *string {
	if b == nil {
		return nil
	}
	s := Text(b, maxRunes)
	return &s
}

func optInt(v int64, has bool) *int64 {
	if !has || v < 0 {
		return nil
	}
	return &v
}

func optFloat(v float64, has bool) *float64 {
	if !has {
		return nil
	}
	return &v
}

// emailDomain reports whether user looks like an e-mail address and returns
// its domain, lower-cased.
func emailDomain(user string) (string, bool) {
	at := strings.LastIndexByte(user, '@')
	if at <= 0 || at == len(user)-1 || strings.ContainsAny(user, " \t\"<>") {
		return "", false
	}
	domain := strings.ToLower(user[at+1:])
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 || strings.Contains(domain, "..") {
		return "", false
	}
	return domain, true
}
