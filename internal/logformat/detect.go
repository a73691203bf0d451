package logformat

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// presetOrder lists the presets from most to least specific: a line that fits
// an earlier one may also fit a later one (a "main" line never fits
// "combined", but an EZproxy line fits "proxy" as well). Auto detection tries
// them in this order.
var presetOrder = []string{"json", "main", "combined", "ezproxy", "proxy", "common"}

var compiled = sync.OnceValue(func() map[string]*Format {
	m := make(map[string]*Format, len(Presets))
	for name, body := range Presets {
		f, err := Compile(body)
		if err != nil {
			panic("logformat: preset " + name + ": " + err.Error())
		}
		f.name = name
		m[name] = f
	}
	return m
})

// Preset returns the compiled preset of that name.
func Preset(name string) (*Format, bool) {
	f, ok := compiled()[name]
	return f, ok
}

// PresetNames returns the preset names in detection order.
func PresetNames() []string {
	out := append([]string(nil), presetOrder...)
	for name := range Presets {
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Detect picks the preset that parses the most of the sample lines (blank
// lines are ignored). Ties go to the preset with more variables, then more
// literal text, then the earlier one in detection order.
func Detect(lines [][]byte) (string, *Format, error) {
	var e Entry
	bestName, best, bestOK := "", (*Format)(nil), 0
	total := 0
	for _, l := range lines {
		if !blank(l) {
			total++
		}
	}
	if total == 0 {
		return "", nil, fmt.Errorf("logformat: no lines to detect the format from")
	}
	for _, name := range PresetNames() {
		f, _ := Preset(name)
		ok := 0
		for _, l := range lines {
			if !blank(l) && f.Parse(l, &e) == nil {
				ok++
			}
		}
		if ok == 0 {
			continue
		}
		if best == nil || ok > bestOK || ok == bestOK && moreSpecific(f, best) {
			bestName, best, bestOK = name, f, ok
		}
	}
	if best == nil {
		return "", nil, fmt.Errorf("logformat: no preset (%s) parses any of the %d sample lines", strings.Join(PresetNames(), ", "), total)
	}
	return bestName, best, nil
}

func moreSpecific(a, b *Format) bool {
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.litBytes > b.litBytes
}

func blank(l []byte) bool {
	for _, c := range l {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// Auto is a Parser that detects its format from the lines it sees. It tries
// the presets in detection order, locks onto the first that parses a line,
// keeps it while lines parse, and when one does not, tries the others before
// rejecting the line (and locks onto the one that fits). It is for one
// goroutine at a time.
type Auto struct {
	cands []*Format
	names []string
	cur   int // index into cands, -1 before the first parsed line
}

// NewAuto returns an Auto parser over every preset.
func NewAuto() *Auto {
	a := &Auto{cur: -1}
	for _, name := range PresetNames() {
		f, _ := Preset(name)
		a.cands = append(a.cands, f)
		a.names = append(a.names, name)
	}
	return a
}

// WithForwardedFor makes every candidate take the client address from the
// first X-Forwarded-For hop (see Format.WithForwardedFor).
func (a *Auto) WithForwardedFor() *Auto {
	for i, f := range a.cands {
		a.cands[i] = f.WithForwardedFor()
	}
	return a
}

// Chosen returns the preset currently locked onto, or "" before any line
// parsed.
func (a *Auto) Chosen() string {
	if a.cur < 0 {
		return ""
	}
	return a.names[a.cur]
}

// Format returns the format currently locked onto, or nil.
func (a *Auto) Format() *Format {
	if a.cur < 0 {
		return nil
	}
	return a.cands[a.cur]
}

// Parse implements Parser. When no preset fits, the error is the one of the
// preset locked onto, or before any lock the one that got furthest into the
// line.
func (a *Auto) Parse(line []byte, e *Entry) error {
	var best error
	bestPos := -1
	if a.cur >= 0 {
		err := a.cands[a.cur].Parse(line, e)
		if err == nil {
			return nil
		}
		best, bestPos = err, len(line)+1
	}
	for i, f := range a.cands {
		if i == a.cur {
			continue
		}
		err := f.Parse(line, e)
		if err == nil {
			a.cur = i
			return nil
		}
		pos := 0
		if pe, ok := err.(*ParseError); ok {
			pos = pe.Pos
		}
		if pos > bestPos {
			best, bestPos = fmt.Errorf("as %s: %w", a.names[i], err), pos
		}
	}
	if a.cur < 0 {
		return fmt.Errorf("no preset fits (%w)", best)
	}
	return fmt.Errorf("as %s: %w", a.names[a.cur], best)
}

// Resolve turns a --log-format value into a Parser and a display name:
//
//	a preset name      → that preset, named as given
//	"auto"             → an *Auto, named "auto"
//	"@file:name"       → log_format name from an nginx.conf ("@file" alone
//	                     when the file holds exactly one), named "custom"
//	anything else      → Compile(s), named "custom"
//
// An empty s means "combined".
func Resolve(s string) (Parser, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "combined"
	}
	if s == "auto" {
		return NewAuto(), "auto", nil
	}
	if f, ok := Preset(s); ok {
		return f, s, nil
	}
	if strings.HasPrefix(s, "@") {
		path, name := s[1:], ""
		if i := strings.LastIndexByte(path, ':'); i >= 0 {
			path, name = path[:i], path[i+1:]
		}
		conf, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("logformat: %w", err)
		}
		f, err := FromConfig(string(conf), name)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return f, "custom", nil
	}
	if !strings.ContainsRune(s, '$') && isVarName(s) {
		return nil, "", fmt.Errorf("logformat: unknown preset %q (known: %s, auto)", s, strings.Join(PresetNames(), ", "))
	}
	f, err := Compile(s)
	if err != nil {
		return nil, "", err
	}
	return f, "custom", nil
}
