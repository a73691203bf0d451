package loggen

import (
	"fmt"
	"strings"
)

// escapeMode is the escape= of a log_format.
type escapeMode uint8

const (
	escDefault escapeMode = iota // '"', '\' and bytes outside 0x20..0x7e as \xHH
	escJSON                      // JSON string contents
	escNone                      // as is
)

// variable identifies a log variable the generator can fill.
type variable uint8

const (
	vUnknown variable = iota // rendered as absent
	vRemoteAddr
	vRemoteUser
	vIdent
	vSession
	vTimeLocal
	vTimeISO8601
	vMsec
	vRequest
	vRequestMethod
	vRequestURI
	vServerProtocol
	vStatus
	vBodyBytesSent
	vBytesSent
	vRequestLength
	vRequestTime
	vUpstreamResponseTime
	vUpstreamAddr
	vReferer
	vUserAgent
	vXForwardedFor
	vHost
	vServerName
	vScheme
	vRequestID
	numVars
)

var varNames = map[string]variable{
	"remote_addr": vRemoteAddr, "remote_user": vRemoteUser, "ident": vIdent, "session": vSession,
	"time_local": vTimeLocal, "time_iso8601": vTimeISO8601, "msec": vMsec,
	"request": vRequest, "request_method": vRequestMethod, "request_uri": vRequestURI,
	"server_protocol": vServerProtocol, "status": vStatus, "body_bytes_sent": vBodyBytesSent,
	"bytes_sent": vBytesSent, "request_length": vRequestLength, "request_time": vRequestTime,
	"upstream_response_time": vUpstreamResponseTime, "upstream_addr": vUpstreamAddr,
	"http_referer": vReferer, "http_user_agent": vUserAgent, "http_x_forwarded_for": vXForwardedFor,
	"host": vHost, "server_name": vServerName, "scheme": vScheme, "request_id": vRequestID,
}

// segment is a literal followed by a variable (v == 0 and name == "" for the
// final literal).
type segment struct {
	lit  string
	v    variable
	name string
}

type template struct {
	escape escapeMode
	segs   []segment
	has    [numVars]bool
}

// parseSpec splits a log_format spec into its escape mode and format body:
// an optional escape= argument, then either the bare format or one or more
// quoted strings that nginx concatenates.
func parseSpec(spec string) (escapeMode, string, error) {
	s := strings.TrimSpace(spec)
	esc := escDefault
	hadEscape := false
	if rest, ok := strings.CutPrefix(s, "escape="); ok {
		word, tail, _ := strings.Cut(rest, " ")
		switch word {
		case "default":
		case "json":
			esc = escJSON
		case "none":
			esc = escNone
		default:
			return 0, "", fmt.Errorf("loggen: unknown escape=%s", word)
		}
		s, hadEscape = strings.TrimSpace(tail), true
	}
	s = strings.TrimSuffix(strings.TrimSpace(s), ";")
	if len(s) > 0 && (s[0] == '\'' || (s[0] == '"' && hadEscape)) {
		if body, ok := unquoteParts(s); ok {
			return esc, body, nil
		}
	}
	if s == "" {
		return 0, "", fmt.Errorf("loggen: empty format")
	}
	return esc, s, nil
}

// unquoteParts concatenates 'a' "b" ... as nginx reads arguments.
func unquoteParts(s string) (string, bool) {
	var b strings.Builder
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			return b.String(), true
		}
		q := s[0]
		if q != '\'' && q != '"' {
			return "", false
		}
		i := 1
		for ; i < len(s) && s[i] != q; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				if s[i] != q && s[i] != '\\' {
					b.WriteByte('\\')
				}
			}
			b.WriteByte(s[i])
		}
		if i == len(s) {
			return "", false
		}
		s = s[i+1:]
	}
}

// compileTemplate splits a format body into literals and $variables
// ($name or ${name}).
func compileTemplate(esc escapeMode, body string) (*template, error) {
	t := &template{escape: esc}
	var lit strings.Builder
	for i := 0; i < len(body); {
		c := body[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		var name string
		if j < len(body) && body[j] == '{' {
			k := strings.IndexByte(body[j:], '}')
			if k < 0 {
				return nil, fmt.Errorf("loggen: unterminated ${ in format")
			}
			name = body[j+1 : j+k]
			j += k + 1
		} else {
			for j < len(body) && isVarByte(body[j]) {
				j++
			}
			name = body[i+1 : j]
		}
		if name == "" {
			return nil, fmt.Errorf("loggen: '$' without a variable name at %d", i)
		}
		v := varNames[name]
		t.segs = append(t.segs, segment{lit: lit.String(), v: v, name: name})
		t.has[v] = true
		lit.Reset()
		i = j
	}
	t.segs = append(t.segs, segment{lit: lit.String()})
	return t, nil
}

func isVarByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

const hexUpper = "0123456789ABCDEF"

// plainDefault and plainJSON mark the bytes each mode writes unchanged.
var plainDefault, plainJSON [256]bool

func init() {
	for c := 0x20; c < 0x100; c++ {
		plainJSON[c] = c != '"' && c != '\\'
		plainDefault[c] = c < 0x7f && c != '"' && c != '\\'
	}
}

// appendEscaped appends s as nginx writes a variable in the given mode.
func appendEscaped(dst []byte, s string, esc escapeMode) []byte {
	switch esc {
	case escNone:
		return append(dst, s...)
	case escJSON:
		start := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if plainJSON[c] {
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xf])
			}
			start = i + 1
		}
		return append(dst, s[start:]...)
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainDefault[c] {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', 'x', hexUpper[c>>4], hexUpper[c&0xf])
		start = i + 1
	}
	return append(dst, s[start:]...)
}
