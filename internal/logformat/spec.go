package logformat

import (
	"fmt"
	"strings"
)

// Compile builds a Format from either a whole nginx directive,
//
//	log_format main escape=json '{"t":"$time_iso8601",' '"s":$status}';
//
// or just its format part: an optional escape= prefix followed by one or more
// quoted strings (concatenated, as nginx does), or the bare format string.
func Compile(spec string) (*Format, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, fmt.Errorf("logformat: empty format")
	}
	if hasWord(s, "log_format") {
		toks, err := tokenize(s)
		if err != nil {
			return nil, err
		}
		args := []token{}
		for i, t := range toks {
			if t.kind == tokSemi {
				if i != len(toks)-1 {
					return nil, fmt.Errorf("logformat: text after ';' in the log_format directive")
				}
				break
			}
			if t.kind != tokWord {
				return nil, fmt.Errorf("logformat: unexpected %q in the log_format directive", t.text)
			}
			args = append(args, t)
		}
		if len(args) < 3 {
			return nil, fmt.Errorf("logformat: log_format needs a name and a format")
		}
		return compileArgs(args[1].text, args[2:])
	}
	// Format part only. A leading escape= is a separate argument.
	esc := EscapeDefault
	hadEscape := false
	if strings.HasPrefix(s, "escape=") {
		hadEscape = true
		end := strings.IndexAny(s, " \t\r\n")
		if end < 0 {
			return nil, fmt.Errorf("logformat: escape= without a format")
		}
		var err error
		if esc, err = parseEscape(s[:end]); err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s[end:])
	}
	if s[0] == '\'' || s[0] == '"' {
		// Quoted parts, if the whole thing reads as quoted strings (plus an
		// optional ';'); otherwise it is a bare format that starts with a
		// quote. Double quotes alone are ambiguous ("$request" is more likely
		// a format with quotes in it), so they count as quoting only next to
		// an escape= prefix, a single-quoted part or a final ';'.
		if toks, err := tokenize(s); err == nil && allQuoted(toks) && (hadEscape || nginxQuoting(toks)) {
			var b strings.Builder
			for _, t := range toks {
				b.WriteString(t.text)
			}
			return compileBody(b.String(), esc)
		}
	}
	return compileBody(s, esc)
}

// compileArgs compiles the arguments after "log_format": name, optional
// escape=, format strings.
func compileArgs(name string, args []token) (*Format, error) {
	esc := EscapeDefault
	if len(args) > 0 && !args[0].quoted && strings.HasPrefix(args[0].text, "escape=") {
		var err error
		if esc, err = parseEscape(args[0].text); err != nil {
			return nil, err
		}
		args = args[1:]
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("logformat: log_format %s has no format string", name)
	}
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a.text)
	}
	f, err := compileBody(b.String(), esc)
	if err != nil {
		return nil, err
	}
	f.name = name
	return f, nil
}

func parseEscape(s string) (Escape, error) {
	switch s {
	case "escape=default":
		return EscapeDefault, nil
	case "escape=json":
		return EscapeJSON, nil
	case "escape=none":
		return EscapeNone, nil
	}
	return 0, fmt.Errorf("logformat: unknown %q (want escape=default, json or none)", s)
}

func allQuoted(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	for i, t := range toks {
		if t.kind == tokSemi && i == len(toks)-1 && i > 0 {
			continue
		}
		if t.kind != tokWord || !t.quoted {
			return false
		}
	}
	return true
}

// nginxQuoting reports whether quoted tokens look like nginx.conf arguments
// rather than a format string that happens to start with a quote.
func nginxQuoting(toks []token) bool {
	if toks[len(toks)-1].kind == tokSemi {
		return true
	}
	for _, t := range toks {
		if t.single {
			return true
		}
	}
	return false
}

func hasWord(s, w string) bool {
	return strings.HasPrefix(s, w) && len(s) > len(w) && (s[len(w)] == ' ' || s[len(w)] == '\t' || s[len(w)] == '\n' || s[len(w)] == '\r')
}

type tokKind uint8

const (
	tokWord tokKind = iota
	tokSemi
	tokOpen
	tokClose
)

type token struct {
	kind   tokKind
	text   string
	quoted bool
	single bool // quoted with '...'
	line   int
}

// tokenize splits nginx configuration text the way nginx reads it: words,
// '...' and "..." strings (with \" \' \\ \t \r \n unescaped), ';', '{', '}',
// and # comments to the end of the line.
func tokenize(s string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ';':
			toks = append(toks, token{kind: tokSemi, text: ";", line: line})
			i++
		case c == '{':
			toks = append(toks, token{kind: tokOpen, text: "{", line: line})
			i++
		case c == '}':
			toks = append(toks, token{kind: tokClose, text: "}", line: line})
			i++
		case c == '\'' || c == '"':
			start := line
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				d := s[i]
				if d == c {
					closed = true
					i++
					break
				}
				if d == '\n' {
					line++
				}
				if d == '\\' && i+1 < len(s) {
					switch n := s[i+1]; n {
					case '"', '\'', '\\':
						b.WriteByte(n)
						i += 2
						continue
					case 't':
						b.WriteByte('\t')
						i += 2
						continue
					case 'r':
						b.WriteByte('\r')
						i += 2
						continue
					case 'n':
						b.WriteByte('\n')
						i += 2
						continue
					}
				}
				b.WriteByte(d)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("logformat: unterminated %c string starting on line %d", c, start)
			}
			toks = append(toks, token{kind: tokWord, text: b.String(), quoted: true, single: c == '\'', line: start})
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n;{}#'\"", rune(s[j])) {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				j++
			}
			if j > len(s) {
				j = len(s)
			}
			toks = append(toks, token{kind: tokWord, text: s[i:j], line: line})
			i = j
		}
	}
	return toks, nil
}

// FromConfig finds "log_format name ..." in nginx configuration text and
// compiles it. With name "", the configuration must hold exactly one
// log_format.
func FromConfig(conf, name string) (*Format, error) {
	toks, err := tokenize(conf)
	if err != nil {
		return nil, err
	}
	var found [][]token
	var names []string
	start := true // at the start of a directive
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tokWord {
			start = true
			continue
		}
		if !start {
			continue
		}
		start = false
		if t.quoted || t.text != "log_format" {
			continue
		}
		j := i + 1
		for j < len(toks) && toks[j].kind == tokWord {
			j++
		}
		if j == len(toks) || toks[j].kind != tokSemi {
			return nil, fmt.Errorf("logformat: log_format on line %d is not ended by ';'", t.line)
		}
		args := toks[i+1 : j]
		if len(args) > 0 {
			names = append(names, args[0].text)
			if name == "" || args[0].text == name {
				found = append(found, args)
			}
		}
		i = j - 1
	}
	switch {
	case len(found) == 0 && name == "":
		return nil, fmt.Errorf("logformat: no log_format in the configuration")
	case len(found) == 0:
		return nil, fmt.Errorf("logformat: no log_format %q in the configuration (found %s)", name, strings.Join(names, ", "))
	case len(found) > 1 && name == "":
		return nil, fmt.Errorf("logformat: the configuration has several log_format directives (%s): name one", strings.Join(names, ", "))
	case len(found) > 1:
		return nil, fmt.Errorf("logformat: log_format %q is defined %d times", name, len(found))
	}
	args := found[0]
	if len(args) < 2 {
		return nil, fmt.Errorf("logformat: log_format %s has no format string", args[0].text)
	}
	return compileArgs(args[0].text, args[1:])
}
