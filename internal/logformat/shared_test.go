package logformat

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/satyrius/gonx"
)

// The shared data sets live beside the repository (never committed into it).
const sharedDir = "../../../shared/data/"

func readShared(t *testing.T, name string) [][]byte {
	t.Helper()
	fh, err := os.Open(sharedDir + name)
	if err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	defer fh.Close()
	var r io.Reader = fh
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	var lines [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestSharedData checks that every line of the shared real-world logs parses
// with its preset and with auto, and that our fields agree with gonx.
func TestSharedData(t *testing.T) {
	for _, tc := range []struct {
		file, preset string
		lines        int
		auto         []string // acceptable auto choices
	}{
		{"elastic-examples_nginx_logs", "combined", 51462, []string{"combined"}},
		{"ezpaarse-project-ezpaarse_sd.2013-03-12.log.gz", "ezproxy", 33641, []string{"ezproxy", "proxy", "common"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			lines := readShared(t, tc.file)
			if len(lines) != tc.lines {
				t.Errorf("%d lines, want %d", len(lines), tc.lines)
			}
			f, _ := Preset(tc.preset)
			a := NewAuto()
			g := gonx.NewParser(Presets[tc.preset])
			var e, ea Entry
			bad, badAuto, gonxOK, gonxDiff := 0, 0, 0, 0
			for i, l := range lines {
				if err := f.Parse(l, &e); err != nil {
					if bad++; bad < 5 {
						t.Errorf("%s line %d: %v\n%s", tc.preset, i+1, err, l)
					}
					continue
				}
				if err := a.Parse(l, &ea); err != nil {
					if badAuto++; badAuto < 5 {
						t.Errorf("auto line %d: %v", i+1, err)
					}
				}
				ge, err := g.ParseString(string(l))
				if err != nil {
					continue
				}
				gonxOK++
				if d := diffGonx(f, &e, ge); d != "" {
					if gonxDiff++; gonxDiff < 5 {
						t.Errorf("line %d differs from gonx: %s", i+1, d)
					}
				}
			}
			if !contains(tc.auto, a.Chosen()) {
				t.Errorf("auto chose %q, want one of %v", a.Chosen(), tc.auto)
			}
			t.Logf("%s: %s parsed %d rejected %d; auto chose %s, rejected %d; gonx parsed %d, differs on %d",
				tc.file, tc.preset, len(lines)-bad, bad, a.Chosen(), badAuto, gonxOK, gonxDiff)
			if name, _, err := Detect(lines[:200]); err != nil || !contains(tc.auto, name) {
				t.Errorf("Detect = %q, %v", name, err)
			}
		})
	}
}
