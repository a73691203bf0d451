package logformat

import (
	"bytes"
	"os"
	"testing"

	"github.com/satyrius/gonx"
)

// benchLines are combined-format lines of the usual shapes: plain, with a
// query, an absolute URI, an escaped byte and a long user agent.
var benchLines = [][]byte{
	[]byte(`93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"`),
	[]byte(`217.168.17.5 - - [17/May/2015:08:05:34 +0000] "GET /downloads/product_1?id=42&lang=en HTTP/1.1" 200 490 "-" "Debian APT-HTTP/1.3 (0.8.10.3)"`),
	[]byte(`10.0.0.7 - alice [01/Nov/2022:00:13:13 -0500] "GET https://example.com:443/a/b.html?x=1 HTTP/1.1" 200 51234 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0 Safari/537.36"`),
	[]byte(`2001:db8::1 - - [31/Dec/2021:23:59:59 +0100] "POST /api/v1/items HTTP/2.0" 201 17 "-" "curl/7.81.0"`),
}

func benchBytes() int64 {
	n := 0
	for _, l := range benchLines {
		n += len(l)
	}
	return int64(n / len(benchLines))
}

func BenchmarkParseCombined(b *testing.B) {
	f, _ := Preset("combined")
	var e Entry
	b.ReportAllocs()
	b.SetBytes(benchBytes())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.Parse(benchLines[i%len(benchLines)], &e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParseAutoCombined(b *testing.B) {
	a := NewAuto()
	var e Entry
	b.ReportAllocs()
	b.SetBytes(benchBytes())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.Parse(benchLines[i%len(benchLines)], &e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkGonxCombined parses the same lines with gonx v1.4.0, which yields
// strings only (no time, no request split).
func BenchmarkGonxCombined(b *testing.B) {
	p := gonx.NewParser(Presets["combined"])
	strs := make([]string, len(benchLines))
	for i, l := range benchLines {
		strs[i] = string(l)
	}
	b.ReportAllocs()
	b.SetBytes(benchBytes())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.ParseString(strs[i%len(strs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// sharedLines loads the elastic combined log when the shared data sits beside
// the repository, for a benchmark on real traffic.
func sharedLines(b *testing.B) [][]byte {
	data, err := os.ReadFile(sharedDir + "elastic-examples_nginx_logs")
	if err != nil {
		b.Skipf("shared data not available: %v", err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
}

func avgLen(lines [][]byte) int64 {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return int64(n / len(lines))
}

func BenchmarkElasticCombined(b *testing.B) {
	lines := sharedLines(b)
	f, _ := Preset("combined")
	var e Entry
	b.ReportAllocs()
	b.SetBytes(avgLen(lines))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.Parse(lines[i%len(lines)], &e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkElasticGonx(b *testing.B) {
	lines := sharedLines(b)
	strs := make([]string, len(lines))
	for i, l := range lines {
		strs[i] = string(l)
	}
	p := gonx.NewParser(Presets["combined"])
	b.ReportAllocs()
	b.SetBytes(avgLen(lines))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.ParseString(strs[i%len(strs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkAppendJSON(b *testing.B) {
	f, _ := Preset("combined")
	var e Entry
	if err := f.Parse(benchLines[2], &e); err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = e.AppendJSON(buf[:0])
	}
}
