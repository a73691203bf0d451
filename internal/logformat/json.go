package logformat

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e as one JSON object (no newline) and returns dst.
// Absent fields are omitted; Extra variables go under "extra" (null when
// absent). Keys are nginx variable names where one exists; the parts of
// $request are "method", "uri", "uri_scheme", "uri_host", "uri_port",
// "path", "query" and "protocol". Strings are escaped so that the output is
// valid JSON whatever the bytes: invalid UTF-8 becomes U+FFFD.
func (e *Entry) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
	}
	str := func(k string, v []byte) {
		if v != nil {
			key(k)
			dst = appendJSONString(dst, v)
		}
	}
	num := func(k string, n int64, ok bool) {
		if ok {
			key(k)
			dst = strconv.AppendInt(dst, n, 10)
		}
	}
	flt := func(k string, x float64, ok bool) {
		if ok {
			key(k)
			dst = strconv.AppendFloat(dst, x, 'f', -1, 64)
		}
	}
	if e.HasTime {
		key("time")
		dst = append(dst, '"')
		dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	str("remote_addr", e.RemoteAddr)
	str("remote_user", e.RemoteUser)
	str("request", e.Request)
	str("method", e.Method)
	str("uri", e.URI)
	str("uri_scheme", e.Scheme)
	str("uri_host", e.Host)
	str("uri_port", e.Port)
	str("path", e.Path)
	str("query", e.Query)
	str("protocol", e.Protocol)
	num("status", int64(e.Status), e.HasStatus)
	num("body_bytes_sent", e.BodyBytesSent, e.HasBodyBytesSent)
	num("bytes_sent", e.BytesSent, e.HasBytesSent)
	num("request_length", e.RequestLength, e.HasRequestLength)
	flt("request_time", e.RequestTime, e.HasRequestTime)
	flt("upstream_response_time", e.UpstreamResponseTime, e.HasUpstreamResponseTime)
	str("upstream_response_times", e.UpstreamResponseTimes)
	str("http_referer", e.Referer)
	str("http_user_agent", e.UserAgent)
	str("http_x_forwarded_for", e.XForwardedFor)
	str("host", e.HostHeader)
	str("server_name", e.ServerName)
	str("scheme", e.SchemeVar)
	str("ssl_protocol", e.SSLProtocol)
	str("upstream_addr", e.UpstreamAddr)
	str("upstream_cache_status", e.UpstreamCacheStatus)
	str("request_id", e.RequestID)
	if len(e.Extra) > 0 {
		key("extra")
		dst = append(dst, '{')
		for i, f := range e.Extra {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, []byte(f.Name))
			dst = append(dst, ':')
			if f.Value == nil {
				dst = append(dst, "null"...)
			} else {
				dst = appendJSONString(dst, f.Value)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
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
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
