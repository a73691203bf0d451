package logformat

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// parseUint parses a non-negative decimal int64 without overflow.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n < 0 {
		return 0, false
	}
	return n, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseDecimal parses "123", "0.010" or "1.5" as nginx writes seconds. Short
// values are exact (integer mantissa divided by a power of ten, both exactly
// representable); longer ones fall back to strconv.
func parseDecimal(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var mant uint64
	digits, frac := 0, -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
		case c == '.' && frac < 0 && i > 0:
			frac = i
		default:
			return 0, false
		}
	}
	if digits == 0 || frac == len(b)-1 {
		return 0, false
	}
	if digits > 15 {
		x, err := strconv.ParseFloat(string(b), 64)
		return x, err == nil && !math.IsInf(x, 0)
	}
	if frac < 0 {
		return float64(mant), true
	}
	return float64(mant) / pow10[len(b)-1-frac], true
}

// parseTimeList sums nginx's "0.010, 0.020 : 0.030" list. Entries written as
// "-" (an upstream that gave no response) are skipped; any reports whether a
// number was seen.
func parseTimeList(b []byte) (sum float64, any, ok bool) {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != ',' && b[i] != ':' {
			i++
		}
		tok := bytes.TrimSpace(b[:i])
		if len(tok) == 0 {
			return 0, false, false
		}
		if !(len(tok) == 1 && tok[0] == '-') {
			x, good := parseDecimal(tok)
			if !good {
				return 0, false, false
			}
			sum += x
			any = true
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
		if len(b) == 0 {
			return 0, false, false // trailing separator
		}
	}
	return sum, any, true
}

// num2 reads two ASCII digits.
func num2(b []byte) (int, bool) {
	if !isDigit(b[0]) || !isDigit(b[1]) {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func num4(b []byte) (int, bool) {
	hi, ok1 := num2(b)
	lo, ok2 := num2(b[2:])
	return hi*100 + lo, ok1 && ok2
}

// month returns 1..12 for "Jan".."Dec", or 0.
func month(b []byte) int {
	switch string(b) { // no allocation: the compiler switches on the bytes
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civil validates a date and time and returns seconds since the epoch,
// before any UTC offset is applied.
func civil(y, mo, d, h, mi, s int) (int64, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	return daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+s), true
}

// parseOffset reads "+hhmm" or, when colon is set, "+hh:mm" and returns the
// offset in seconds east of UTC.
func parseOffset(b []byte, colon bool) (int64, bool) {
	want := 5
	if colon {
		want = 6
	}
	if len(b) != want || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	h, ok1 := num2(b[1:])
	mb := b[3:]
	if colon {
		if b[3] != ':' {
			return 0, false
		}
		mb = b[4:]
	}
	m, ok2 := num2(mb)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	off := int64(h*3600 + m*60)
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

// parseTimeLocal parses nginx's $time_local, "17/May/2015:08:05:32 +0000".
func parseTimeLocal(b []byte) (time.Time, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return time.Time{}, false
	}
	d, ok1 := num2(b)
	mo := month(b[3:6])
	y, ok2 := num4(b[7:])
	h, ok3 := num2(b[12:])
	mi, ok4 := num2(b[15:])
	s, ok5 := num2(b[18:])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || mo == 0 {
		return time.Time{}, false
	}
	sec, ok := civil(y, mo, d, h, mi, s)
	if !ok {
		return time.Time{}, false
	}
	off, ok := parseOffset(b[21:], false)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec-off, 0).UTC(), true
}

// parseISO8601 parses nginx's $time_iso8601, "2015-05-17T08:05:32+00:00".
// Fractional seconds and "Z" are accepted too.
func parseISO8601(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	y, ok1 := num4(b)
	mo, ok2 := num2(b[5:])
	d, ok3 := num2(b[8:])
	h, ok4 := num2(b[11:])
	mi, ok5 := num2(b[14:])
	s, ok6 := num2(b[17:])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return time.Time{}, false
	}
	sec, ok := civil(y, mo, d, h, mi, s)
	if !ok {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if rest[0] == '.' {
		i := 1
		scale := 100000000
		for i < len(rest) && isDigit(rest[i]) {
			if scale > 0 {
				nsec += int(rest[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == 1 {
			return time.Time{}, false
		}
		rest = rest[i:]
	}
	var off int64
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6:
		if off, ok = parseOffset(rest, true); !ok {
			return time.Time{}, false
		}
	case len(rest) == 5:
		if off, ok = parseOffset(rest, false); !ok {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	return time.Unix(sec-off, int64(nsec)).UTC(), true
}

// parseMsec parses $msec, "1431849932.123".
func parseMsec(b []byte) (time.Time, bool) {
	var sec int64
	i := 0
	for i < len(b) && isDigit(b[i]) {
		if i >= 12 {
			return time.Time{}, false
		}
		sec = sec*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 {
		return time.Time{}, false
	}
	nsec := 0
	if i < len(b) {
		if b[i] != '.' || i == len(b)-1 {
			return time.Time{}, false
		}
		scale := 100000000
		for i++; i < len(b); i++ {
			if !isDigit(b[i]) {
				return time.Time{}, false
			}
			if scale > 0 {
				nsec += int(b[i]-'0') * scale
				scale /= 10
			}
		}
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}

// setRequest stores $request and, when it is METHOD SP URI SP HTTP/x, its
// parts. Anything else (empty, TLS bytes, a bare path) keeps only Request.
func (e *Entry) setRequest(r []byte) {
	e.Request = r
	sp1 := bytes.IndexByte(r, ' ')
	sp2 := bytes.LastIndexByte(r, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return
	}
	method, uri, proto := r[:sp1], r[sp1+1:sp2], r[sp2+1:]
	for _, c := range method {
		if !(c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return
		}
	}
	if len(proto) < 6 || string(proto[:5]) != "HTTP/" {
		return
	}
	for _, c := range proto[5:] {
		if !isDigit(c) && c != '.' {
			return
		}
	}
	e.Method, e.URI, e.Protocol = method, uri, proto
	e.splitURI(uri, string(method) == "CONNECT")
}

// splitURI fills Path and Query, and for an absolute URI Scheme, Host and
// Port. A CONNECT target "host:port" fills Host and Port.
func (e *Entry) splitURI(u []byte, connect bool) {
	if connect {
		e.splitAuthority(u)
		return
	}
	if u[0] != '/' && u[0] != '*' {
		// Absolute form: scheme "://" authority path.
		i := bytes.Index(u, []byte("://"))
		if i <= 0 || !isScheme(u[:i]) {
			e.splitPath(u)
			return
		}
		e.Scheme = u[:i]
		rest := u[i+3:]
		j := 0
		for j < len(rest) && rest[j] != '/' && rest[j] != '?' && rest[j] != '#' {
			j++
		}
		e.splitAuthority(rest[:j])
		u = rest[j:]
		if len(u) == 0 {
			return
		}
	}
	e.splitPath(u)
}

func (e *Entry) splitPath(u []byte) {
	if i := bytes.IndexByte(u, '?'); i >= 0 {
		e.Path, e.Query = u[:i], u[i+1:]
	} else {
		e.Path = u
	}
	if len(e.Path) == 0 {
		e.Path = nil
	}
}

func (e *Entry) splitAuthority(a []byte) {
	if i := bytes.LastIndexByte(a, '@'); i >= 0 {
		a = a[i+1:]
	}
	host := a
	if len(a) > 0 && a[0] == '[' {
		// IPv6 literal.
		if k := bytes.IndexByte(a, ']'); k > 0 {
			host = a[:k+1]
			if k+1 < len(a) && a[k+1] == ':' && k+2 < len(a) {
				e.Port = a[k+2:]
			}
		}
	} else if k := bytes.LastIndexByte(a, ':'); k >= 0 {
		host = a[:k]
		if k+1 < len(a) {
			e.Port = a[k+1:]
		}
	}
	if len(host) > 0 {
		e.Host = host
	}
}

func isScheme(s []byte) bool {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// decode appends the unescaped form of v to e.scratch and returns it.
func (e *Entry) decode(v []byte, esc Escape) []byte {
	start := len(e.scratch)
	out := e.scratch
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i+1 == len(v) {
			out = append(out, c)
			continue
		}
		n := v[i+1]
		switch {
		case n == '"' || n == '\\':
			out = append(out, n)
			i++
		case esc == EscapeDefault && n == 'x' && i+3 < len(v) && isHex(v[i+2]) && isHex(v[i+3]):
			out = append(out, unhex(v[i+2])<<4|unhex(v[i+3]))
			i += 3
		case esc == EscapeJSON && n == 'u' && i+5 < len(v):
			r, ok := hex4(v[i+2 : i+6])
			if !ok {
				out = append(out, c)
				continue
			}
			i += 5
			if r >= 0xd800 && r < 0xdc00 && i+6 < len(v) && v[i+1] == '\\' && v[i+2] == 'u' {
				if lo, ok := hex4(v[i+3 : i+7]); ok && lo >= 0xdc00 && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		case esc == EscapeJSON && n == '/':
			out = append(out, '/')
			i++
		case esc == EscapeJSON && (n == 'n' || n == 'r' || n == 't' || n == 'b' || n == 'f'):
			out = append(out, jsonCtl[n])
			i++
		default:
			out = append(out, c)
		}
	}
	e.scratch = out
	return out[start:len(out):len(out)]
}

var jsonCtl = [256]byte{'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'f': '\f'}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}
