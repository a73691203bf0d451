package loggen

import (
	"strconv"
	"time"
)

// render appends the line of rec to dst through the template.
func (g *Gen) render(dst []byte, rec *Record) []byte {
	esc := g.tpl.escape
	for i := range g.tpl.segs {
		s := &g.tpl.segs[i]
		dst = append(dst, s.lit...)
		if s.name == "" {
			break
		}
		switch s.v {
		case vTimeLocal:
			dst = append(dst, g.timeString(0, rec.Time)...)
		case vTimeISO8601:
			dst = append(dst, g.timeString(1, rec.Time)...)
		case vMsec:
			ms := rec.Time.UnixMilli()
			dst = strconv.AppendInt(dst, ms/1000, 10)
			dst = append(dst, '.', byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
		case vStatus:
			dst = strconv.AppendInt(dst, int64(rec.Status), 10)
		case vBodyBytesSent:
			dst = strconv.AppendInt(dst, rec.BodyBytesSent, 10)
		case vBytesSent:
			dst = strconv.AppendInt(dst, rec.BytesSent, 10)
		case vRequestLength:
			dst = strconv.AppendInt(dst, rec.RequestLength, 10)
		case vRequestTime:
			ms := rec.RequestTime.Milliseconds()
			dst = strconv.AppendInt(dst, ms/1000, 10)
			dst = append(dst, '.', byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
		case vRequest:
			// Present even when empty: nginx logs "" for a request that
			// never came.
			dst = appendEscaped(dst, rec.Request, esc)
		default:
			v := g.value(s.v, rec)
			switch {
			case v != "":
				dst = appendEscaped(dst, v, esc)
			case esc != escJSON:
				dst = append(dst, '-')
			}
		}
	}
	return dst
}

// value returns the string value of a variable, "" when absent.
func (g *Gen) value(v variable, rec *Record) string {
	switch v {
	case vRemoteAddr:
		return rec.RemoteAddr
	case vRemoteUser:
		return rec.RemoteUser
	case vIdent:
		return rec.Ident
	case vSession:
		return rec.Session
	case vRequestMethod:
		return rec.Method
	case vRequestURI:
		return rec.URI
	case vServerProtocol:
		return rec.Protocol
	case vUpstreamResponseTime:
		return rec.UpstreamResponseTimes
	case vUpstreamAddr:
		return rec.UpstreamAddr
	case vReferer:
		return rec.Referer
	case vUserAgent:
		return rec.UserAgent
	case vXForwardedFor:
		return rec.XForwardedFor
	case vHost, vServerName:
		return rec.HostHeader
	case vScheme:
		return "https"
	case vRequestID:
		return rec.RequestID
	}
	return ""
}

// timeString formats t (kind 0: $time_local, 1: $time_iso8601), cached per
// second since many lines share one.
func (g *Gen) timeString(kind int, t time.Time) string {
	sec := t.Unix()
	c := &g.tcache[kind]
	if c.s != "" && c.sec == sec {
		return c.s
	}
	layout := "02/Jan/2006:15:04:05 -0700"
	if kind == 1 {
		layout = "2006-01-02T15:04:05-07:00"
	}
	c.sec, c.s = sec, t.Format(layout)
	return c.s
}
