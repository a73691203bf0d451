// Package logformat turns nginx access-log lines into typed fields.
//
// It is the pure core of Datastream: no I/O, no globals that change, and a hot
// path that does not allocate. A Format is compiled once from an nginx
// log_format directive; Parse then fills a caller-owned Entry whose byte-slice
// fields point into the line (or into the Entry's own scratch buffer when an
// escape had to be decoded), so an Entry is valid only until the next Parse
// into it or until the line's bytes change.
package logformat

import "time"

// Entry is one parsed line. Absent values ("-" in the log, or a variable the
// format does not contain) are nil slices, zero numbers with their Has flag
// false. Strings that were present but empty are non-nil, zero-length slices.
type Entry struct {
	// Time is the request time converted to UTC ($time_local, $time_iso8601
	// or $msec); HasTime says whether the format carried one.
	Time    time.Time
	HasTime bool

	RemoteAddr []byte // $remote_addr (or the first X-Forwarded-For hop, when asked)
	RemoteUser []byte // $remote_user

	// Request is the whole "$request" text as logged (escapes decoded, like
	// every string field). When it is well formed
	// (METHOD SP URI SP PROTOCOL) the parts below are set; when it is garbage
	// (empty, TLS bytes, no method) only Request is set.
	Request  []byte
	Method   []byte
	URI      []byte // as sent: origin-form "/p?q" or absolute "https://h:443/p?q"
	Scheme   []byte // from an absolute URI, else nil
	Host     []byte // from an absolute URI, else nil
	Port     []byte // from an absolute URI with an explicit port, else nil
	Path     []byte
	Query    []byte // without the '?'; nil when there is no '?'
	Protocol []byte // "HTTP/1.1"

	Status    int // $status
	HasStatus bool

	BodyBytesSent    int64 // $body_bytes_sent
	HasBodyBytesSent bool
	BytesSent        int64 // $bytes_sent
	HasBytesSent     bool
	RequestLength    int64 // $request_length
	HasRequestLength bool

	RequestTime    float64 // $request_time, seconds
	HasRequestTime bool
	// UpstreamResponseTime is the sum of every value in nginx's
	// "0.010, 0.020 : 0.030" list; UpstreamResponseTimes keeps the list as logged.
	UpstreamResponseTime    float64
	HasUpstreamResponseTime bool
	UpstreamResponseTimes   []byte

	Referer             []byte // $http_referer
	UserAgent           []byte // $http_user_agent
	XForwardedFor       []byte // $http_x_forwarded_for
	HostHeader          []byte // $host
	ServerName          []byte // $server_name
	SchemeVar           []byte // $scheme
	SSLProtocol         []byte // $ssl_protocol
	UpstreamAddr        []byte // $upstream_addr
	UpstreamCacheStatus []byte // $upstream_cache_status
	RequestID           []byte // $request_id

	// Extra holds every variable the engine has no typed field for, by name,
	// in format order (for example the original design's $session).
	Extra []Field

	// scratch holds decoded escapes so the fields above can point at them
	// without allocating per line; it is reused across Parse calls.
	scratch []byte
}

// Field is one variable captured by name.
type Field struct {
	Name  string // variable name without '$', e.g. "session"
	Value []byte // nil when absent ("-")
}

// Get returns the value of an Extra variable by name, or nil.
func (e *Entry) Get(name string) []byte {
	for i := range e.Extra {
		if e.Extra[i].Name == name {
			return e.Extra[i].Value
		}
	}
	return nil
}
