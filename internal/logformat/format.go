package logformat

import (
	"bytes"
	"fmt"
	"strings"
)

// Parser turns one log line into an Entry. *Format and the parser returned by
// Resolve("auto") implement it.
type Parser interface {
	Parse(line []byte, e *Entry) error
}

// Escape is the escape= mode of an nginx log_format.
type Escape uint8

const (
	// EscapeDefault is nginx's default: '"', '\' and bytes outside
	// 0x20..0x7e are written as \xHH.
	EscapeDefault Escape = iota
	// EscapeJSON writes values as JSON string contents.
	EscapeJSON
	// EscapeNone writes values unchanged.
	EscapeNone
)

func (m Escape) String() string {
	switch m {
	case EscapeJSON:
		return "json"
	case EscapeNone:
		return "none"
	}
	return "default"
}

// kind says which Entry field a variable fills.
type kind uint8

const (
	kExtra kind = iota
	kRemoteAddr
	kRemoteUser
	kTimeLocal
	kTimeISO8601
	kMsec
	kRequest
	kStatus
	kBodyBytesSent
	kBytesSent
	kRequestLength
	kRequestTime
	kUpstreamResponseTime
	kReferer
	kUserAgent
	kXForwardedFor
	kHost
	kServerName
	kScheme
	kSSLProtocol
	kUpstreamAddr
	kUpstreamCacheStatus
	kRequestID
)

var kinds = map[string]kind{
	"remote_addr":            kRemoteAddr,
	"remote_user":            kRemoteUser,
	"time_local":             kTimeLocal,
	"time_iso8601":           kTimeISO8601,
	"msec":                   kMsec,
	"request":                kRequest,
	"status":                 kStatus,
	"body_bytes_sent":        kBodyBytesSent,
	"bytes_sent":             kBytesSent,
	"request_length":         kRequestLength,
	"request_time":           kRequestTime,
	"upstream_response_time": kUpstreamResponseTime,
	"http_referer":           kReferer,
	"http_user_agent":        kUserAgent,
	"http_x_forwarded_for":   kXForwardedFor,
	"host":                   kHost,
	"server_name":            kServerName,
	"scheme":                 kScheme,
	"ssl_protocol":           kSSLProtocol,
	"upstream_addr":          kUpstreamAddr,
	"upstream_cache_status":  kUpstreamCacheStatus,
	"request_id":             kRequestID,
}

// segment is one variable and the literal text that follows it.
type segment struct {
	name string // without '$'
	kind kind
	lit  []byte // literal after the variable; empty only for the last one
	// list is set for nginx's upstream variables, whose values are lists
	// joined by ", " and " : "; a space inside such a list does not end it.
	list bool
}

// Format is a compiled log_format. It is immutable and safe for concurrent
// use; each goroutine needs its own Entry.
type Format struct {
	name         string // directive name, "" when compiled from a bare body
	escape       Escape
	body         string // the format string after unquoting
	prefix       []byte // literal before the first variable
	segs         []segment
	forwardedFor bool
	typed        int // number of typed variables, for Detect's tie-break
	litBytes     int // bytes of literal text, for Detect's tie-break
}

// Name returns the log_format name given in the directive, or "".
func (f *Format) Name() string { return f.name }

// Escape returns the format's escape= mode.
func (f *Format) Escape() Escape { return f.escape }

// String returns the format string (the log_format body, unquoted).
func (f *Format) String() string { return f.body }

// Vars returns the variable names of the format, in order, without '$'.
func (f *Format) Vars() []string {
	out := make([]string, len(f.segs))
	for i := range f.segs {
		out[i] = f.segs[i].name
	}
	return out
}

// WithForwardedFor returns a copy of f that sets Entry.RemoteAddr to the first
// hop of $http_x_forwarded_for when that header is present and names a
// client. The original format is unchanged.
func (f *Format) WithForwardedFor() *Format {
	g := *f
	g.forwardedFor = true
	return &g
}

// compileBody builds a Format from an unquoted format string.
func compileBody(body string, esc Escape) (*Format, error) {
	f := &Format{escape: esc, body: body}
	i := 0
	// Literal before the first variable.
	lit, n := scanLiteral(body, 0)
	f.prefix = lit
	f.litBytes += len(lit)
	i = n
	seen := 0
	for i < len(body) {
		// body[i] == '$'
		name, n, err := scanVarName(body, i)
		if err != nil {
			return nil, err
		}
		i = n
		lit, n := scanLiteral(body, i)
		i = n
		if len(lit) == 0 && i < len(body) {
			return nil, fmt.Errorf("logformat: $%s is followed directly by another variable at byte %d: the two cannot be told apart", name, i)
		}
		k := kinds[name]
		if k != kExtra {
			if seen&(1<<k) != 0 {
				return nil, fmt.Errorf("logformat: $%s appears twice", name)
			}
			seen |= 1 << k
			f.typed++
		}
		f.litBytes += len(lit)
		f.segs = append(f.segs, segment{
			name: name,
			kind: k,
			lit:  lit,
			list: strings.HasPrefix(name, "upstream_") && name != "upstream_cache_status",
		})
	}
	if len(f.segs) == 0 {
		return nil, fmt.Errorf("logformat: format %q has no variables", body)
	}
	return f, nil
}

// scanLiteral returns the literal text of body from i up to the next
// variable and the index where it stops.
func scanLiteral(body string, i int) ([]byte, int) {
	j := strings.IndexByte(body[i:], '$')
	if j < 0 {
		j = len(body) - i
	}
	if j == 0 {
		return nil, i
	}
	return []byte(body[i : i+j]), i + j
}

// scanVarName reads "$name" or "${name}" at body[i].
func scanVarName(body string, i int) (string, int, error) {
	i++ // '$'
	if i < len(body) && body[i] == '{' {
		end := strings.IndexByte(body[i:], '}')
		if end < 0 {
			return "", 0, fmt.Errorf("logformat: unterminated ${ at byte %d", i-1)
		}
		name := body[i+1 : i+end]
		if name == "" || !isVarName(name) {
			return "", 0, fmt.Errorf("logformat: bad variable name %q at byte %d", name, i-1)
		}
		return name, i + end + 1, nil
	}
	j := i
	for j < len(body) && isVarByte(body[j]) {
		j++
	}
	if j == i {
		return "", 0, fmt.Errorf("logformat: '$' without a variable name at byte %d", i-1)
	}
	return body[i:j], j, nil
}

func isVarByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isVarName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isVarByte(s[i]) {
			return false
		}
	}
	return true
}

// Parse resets e and fills it from line. On error e is reset again, so no
// partial row survives. A trailing "\n", "\r\n" or "\r" is ignored.
func (f *Format) Parse(line []byte, e *Entry) error {
	e.reset()
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if err := f.parse(line, e); err != nil {
		e.reset()
		return err
	}
	return nil
}

func (f *Format) parse(line []byte, e *Entry) error {
	if !bytes.HasPrefix(line, f.prefix) {
		return litError(line, f.prefix, 0)
	}
	pos := len(f.prefix)
	for i := range f.segs {
		s := &f.segs[i]
		end := len(line)
		if len(s.lit) > 0 {
			end = s.find(line, pos)
			if end < 0 {
				return &ParseError{Field: "$" + s.name, Pos: pos, Reason: fmt.Sprintf("no %q after the value", s.lit)}
			}
		}
		if err := f.assign(s, line[pos:end], pos, e); err != nil {
			return err
		}
		pos = end + len(s.lit)
	}
	if pos != len(line) {
		return &ParseError{Field: "end of line", Pos: pos, Reason: "unexpected trailing data " + quoteSample(line[pos:])}
	}
	if f.forwardedFor && e.XForwardedFor != nil {
		if hop := firstHop(e.XForwardedFor); hop != nil {
			e.RemoteAddr = hop
		}
	}
	return nil
}

// find returns the index in line, at or after from, where s.lit begins and
// the variable's value therefore ends, or -1.
func (s *segment) find(line []byte, from int) int {
	d := s.lit[0]
	start := from
	if s.kind == kTimeLocal && d == ' ' && len(line)-from > 21 {
		start = from + 21 // "17/May/2015:08:05:32 +0000" holds a space
	}
	for {
		i := bytes.IndexByte(line[start:], d)
		if i < 0 {
			return -1
		}
		j := start + i
		if d == '"' && escapedAt(line, from, j) {
			start = j + 1
			continue
		}
		if s.list && d == ' ' && listSpace(line, from, j) {
			start = j + 1
			continue
		}
		if len(s.lit) > 1 && !bytes.HasPrefix(line[j+1:], s.lit[1:]) {
			// The value may not hold the delimiter: the line does not fit.
			return -1
		}
		return j
	}
}

// escapedAt reports whether line[j] is preceded by an odd number of
// backslashes within line[from:j].
func escapedAt(line []byte, from, j int) bool {
	n := 0
	for k := j - 1; k >= from && line[k] == '\\'; k-- {
		n++
	}
	return n&1 == 1
}

// listSpace reports whether the space at line[j] is part of an nginx
// upstream list separator (", " or " : ").
func listSpace(line []byte, from, j int) bool {
	if j > from && (line[j-1] == ',' || line[j-1] == ':') {
		return true
	}
	return j+2 < len(line) && line[j+1] == ':' && line[j+2] == ' '
}

func firstHop(xff []byte) []byte {
	if i := bytes.IndexByte(xff, ','); i >= 0 {
		xff = xff[:i]
	}
	xff = bytes.TrimSpace(xff)
	if len(xff) == 0 || string(xff) == "-" || string(xff) == "unknown" {
		return nil
	}
	return xff
}

// assign stores one raw value into e.
func (f *Format) assign(s *segment, v []byte, pos int, e *Entry) error {
	if len(v) == 1 && v[0] == '-' {
		if s.kind == kExtra {
			e.Extra = append(e.Extra, Field{Name: s.name})
		}
		return nil // absent
	}
	if f.escape == EscapeJSON && len(v) == 0 && s.kind != kRequest {
		// escape=json writes an unset variable as nothing.
		if s.kind == kExtra {
			e.Extra = append(e.Extra, Field{Name: s.name})
		}
		return nil
	}
	switch s.kind {
	case kStatus:
		if len(v) != 3 || !isDigit(v[0]) || !isDigit(v[1]) || !isDigit(v[2]) {
			return valueError(s, v, pos, "want a 3-digit status")
		}
		e.Status = int(v[0]-'0')*100 + int(v[1]-'0')*10 + int(v[2]-'0')
		e.HasStatus = true
		return nil
	case kBodyBytesSent:
		n, ok := parseUint(v)
		if !ok {
			return valueError(s, v, pos, "want a byte count")
		}
		e.BodyBytesSent, e.HasBodyBytesSent = n, true
		return nil
	case kBytesSent:
		n, ok := parseUint(v)
		if !ok {
			return valueError(s, v, pos, "want a byte count")
		}
		e.BytesSent, e.HasBytesSent = n, true
		return nil
	case kRequestLength:
		n, ok := parseUint(v)
		if !ok {
			return valueError(s, v, pos, "want a byte count")
		}
		e.RequestLength, e.HasRequestLength = n, true
		return nil
	case kRequestTime:
		x, ok := parseDecimal(v)
		if !ok {
			return valueError(s, v, pos, "want seconds like 0.123")
		}
		e.RequestTime, e.HasRequestTime = x, true
		return nil
	case kUpstreamResponseTime:
		sum, any, ok := parseTimeList(v)
		if !ok {
			return valueError(s, v, pos, "want seconds or a list like \"0.010, 0.020 : 0.030\"")
		}
		e.UpstreamResponseTimes = v
		e.UpstreamResponseTime, e.HasUpstreamResponseTime = sum, any
		return nil
	case kTimeLocal:
		t, ok := parseTimeLocal(v)
		if !ok {
			return valueError(s, v, pos, "want a time like 17/May/2015:08:05:32 +0000")
		}
		e.Time, e.HasTime = t, true
		return nil
	case kTimeISO8601:
		t, ok := parseISO8601(v)
		if !ok {
			return valueError(s, v, pos, "want a time like 2015-05-17T08:05:32+00:00")
		}
		e.Time, e.HasTime = t, true
		return nil
	case kMsec:
		t, ok := parseMsec(v)
		if !ok {
			return valueError(s, v, pos, "want seconds since the epoch like 1431849932.123")
		}
		e.Time, e.HasTime = t, true
		return nil
	}

	// String-valued variables: decode escapes when there are any.
	if f.escape != EscapeNone && bytes.IndexByte(v, '\\') >= 0 {
		v = e.decode(v, f.escape)
	} else if v == nil {
		v = line0 // present but empty: non-nil
	}
	switch s.kind {
	case kRemoteAddr:
		e.RemoteAddr = v
	case kRemoteUser:
		e.RemoteUser = v
	case kRequest:
		e.setRequest(v)
	case kReferer:
		e.Referer = v
	case kUserAgent:
		e.UserAgent = v
	case kXForwardedFor:
		e.XForwardedFor = v
	case kHost:
		e.HostHeader = v
	case kServerName:
		e.ServerName = v
	case kScheme:
		e.SchemeVar = v
	case kSSLProtocol:
		e.SSLProtocol = v
	case kUpstreamAddr:
		e.UpstreamAddr = v
	case kUpstreamCacheStatus:
		e.UpstreamCacheStatus = v
	case kRequestID:
		e.RequestID = v
	default:
		e.Extra = append(e.Extra, Field{Name: s.name, Value: v})
	}
	return nil
}

// line0 is a non-nil empty value for fields that were present but empty.
var line0 = []byte{}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// reset clears e for a new line, keeping the capacity of Extra and scratch.
func (e *Entry) reset() {
	*e = Entry{Extra: e.Extra[:0], scratch: e.scratch[:0]}
}
