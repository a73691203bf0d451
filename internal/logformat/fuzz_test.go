package logformat

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

// addFixtureSeeds adds the committed fixture lines to a fuzzer's corpus.
func addFixtureSeeds(f *testing.F, add func(line []byte)) {
	for _, name := range PresetNames() {
		fh, err := os.Open("testdata/" + name + ".log")
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			add(append([]byte(nil), sc.Bytes()...))
		}
		fh.Close()
	}
}

// checkEntry verifies the invariants of a successfully parsed entry.
func checkEntry(t *testing.T, e *Entry) {
	t.Helper()
	if e.Method != nil {
		if got := string(e.Method) + " " + string(e.URI) + " " + string(e.Protocol); got != string(e.Request) {
			t.Fatalf("request parts %q do not rebuild %q", got, e.Request)
		}
	}
	if e.HasTime && e.Time.Location() != time.UTC {
		t.Fatalf("time not in UTC: %v", e.Time)
	}
	if e.HasStatus && (e.Status < 0 || e.Status > 999) {
		t.Fatalf("status %d", e.Status)
	}
	if js := e.AppendJSON(nil); !json.Valid(js) {
		t.Fatalf("invalid JSON: %s", js)
	}
}

func checkErr(t *testing.T, err error, line []byte) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error is not a *ParseError: %v", err)
	}
	if pe.Pos < 0 || pe.Pos > len(line) {
		t.Fatalf("error position %d outside the line (%d bytes): %v", pe.Pos, len(line), err)
	}
}

func FuzzParse(f *testing.F) {
	addFixtureSeeds(f, func(l []byte) { f.Add(l) })
	f.Add([]byte(""))
	f.Add([]byte("\r"))
	f.Add([]byte(`1.2.3.4 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 0 "-" "\"`))
	names := PresetNames()
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Entry
		for _, name := range names {
			p, _ := Preset(name)
			if err := p.Parse(line, &e); err != nil {
				checkErr(t, err, line)
				if e.HasStatus || e.Request != nil || len(e.Extra) != 0 {
					t.Fatalf("%s: entry not reset after error", name)
				}
				continue
			}
			checkEntry(t, &e)
		}
		a := NewAuto()
		if err := a.Parse(line, &e); err == nil {
			checkEntry(t, &e)
			if a.Chosen() == "" {
				t.Fatal("auto parsed without choosing")
			}
		}
	})
}

func FuzzCompile(f *testing.F) {
	for _, body := range Presets {
		f.Add(body, []byte(`1.2.3.4 - - [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 0 "-" "ua"`))
	}
	f.Add(`log_format main escape=json '{"t":"$time_iso8601",' '"s":$status}';`, []byte(`{"t":"2015-05-17T08:05:32+00:00","s":200}`))
	f.Add(`'$remote_addr ${msec}|$request_time|$upstream_response_time'`, []byte(`1.2.3.4 1431849932.123|0.5|0.1, 0.2 : -`))
	f.Add(`$a$b`, []byte("x"))
	f.Add(`escape=none "$x"`, []byte(`"y"`))
	f.Fuzz(func(t *testing.T, spec string, line []byte) {
		fm, err := Compile(spec)
		if err != nil {
			return
		}
		if len(fm.Vars()) == 0 {
			t.Fatal("compiled a format without variables")
		}
		var e Entry
		if err := fm.Parse(line, &e); err != nil {
			checkErr(t, err, line)
			return
		}
		checkEntry(t, &e)
		// The same text read as an nginx.conf must not panic either.
		_, _ = FromConfig(spec, "")
	})
}
