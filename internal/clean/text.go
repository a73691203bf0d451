package clean

import (
	"unicode/utf8"
)

// Text makes a column value from attacker-controlled bytes: invalid UTF-8
// becomes U+FFFD (the raw table keeps the exact bytes), NUL is kept, and the
// result is cut to at most maxRunes characters so a strict-mode server never
// refuses the row for length.
func Text(b []byte, maxRunes int) string {
	if utf8.Valid(b) {
		if len(b) <= maxRunes || utf8.RuneCount(b) <= maxRunes {
			return string(b)
		}
		n := 0
		for i := range string(b) {
			if n == maxRunes {
				return string(b[:i])
			}
			n++
		}
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	n := 0
	for len(b) > 0 && n < maxRunes {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
		n++
	}
	return string(out)
}

// TextString is Text for a string.
func TextString(s string, maxRunes int) string {
	if utf8.ValidString(s) && len(s) <= maxRunes {
		return s
	}
	return Text([]byte(s), maxRunes)
}
