package store

import (
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/record"
)

// testRows is a rowSource of three columns: text, nullable int, time.
type testRows []struct {
	s string
	n *int64
	t time.Time
}

func (r testRows) len() int { return len(r) }
func (r testRows) row(w rowWriter, i int) {
	w.text(r[i].s)
	optInt(w, r[i].n)
	w.time(r[i].t)
}

func TestTextWriter(t *testing.T) {
	seven := int64(7)
	at := time.Date(2026, 11, 27, 6, 5, 4, 123456789, time.FixedZone("x", 3600))
	rows := testRows{
		{s: "a\tb\\c\nd\x00e", t: at},
		{s: "", n: &seven, t: time.Date(987, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	tests := []struct {
		name string
		skip []bool
		want string
	}{
		{"all columns", nil, "a\\tb\\\\c\\nd\x00e\t\\N\t2026-11-27 05:05:04.123456\n\t7\t0987-01-02 03:04:05.000000\n"},
		{"middle left out", []bool{false, true, false}, "a\\tb\\\\c\\nd\x00e\t2026-11-27 05:05:04.123456\n\t0987-01-02 03:04:05.000000\n"},
		{"last left out", []bool{false, false, true}, "a\\tb\\\\c\\nd\x00e\t\\N\n\t7\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &textWriter{ncols: 3, skip: tt.skip}
			for i := range rows.len() {
				rows.row(w, i)
			}
			if got := string(w.buf); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNullColumns(t *testing.T) {
	seven := int64(7)
	if got := nullColumns(testRows{{s: "x"}, {s: "y"}}, 3); !got[1] || got[0] || got[2] {
		t.Fatalf("all-NULL middle column: got %v", got)
	}
	if got := nullColumns(testRows{{s: "x"}, {s: "y", n: &seven}}, 3); got[1] {
		t.Fatalf("a column with one value is not all NULL: got %v", got)
	}
}

func TestAppendDatetime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		time.Date(1, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("y", -7200)),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		want := tm.UTC().Format("2006-01-02 15:04:05.000000")
		if tm.UTC().Year() > 9999 {
			want = tm.UTC().Format("2006-01-02 15:04:05.999999")
		}
		if got := string(appendDatetime(nil, tm)); got != want {
			t.Errorf("%v: got %q, want %q", tm, got, want)
		}
	}
}

// BenchmarkLoadText is the consumer's cost of turning a clean row into LOAD
// DATA text (both passes: the NULL columns, then the text).
//
//	go test -run XXX -bench LoadText -benchmem ./internal/store
func BenchmarkLoadText(b *testing.B) {
	p, _, err := logformat.Resolve("combined")
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`203.0.113.9 - - [27/Nov/2026:06:00:00 +0100] "GET /products/view.php?id=42&ref=home HTTP/1.1" 200 5123 "https://www.example.com/start" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"`)
	var e logformat.Entry
	if err := p.Parse(data, &e); err != nil {
		b.Fatal(err)
	}
	rows := cleanRows{rows: make([]clean.Row, 100), sources: make([]uint32, 100)}
	for i := range rows.rows {
		l := record.Line{ID: record.NewID([8]byte{1}, int64(i)), SourceHost: "web-1", SourcePath: "/var/log/nginx/access.log", ReceivedAt: time.Now(), Data: data}
		rows.rows[i] = clean.Build(&l, &e, "combined")
	}
	w := &textWriter{ncols: len(cleanCols)}
	b.ReportAllocs()
	for b.Loop() {
		w.skip = nullColumns(rows, len(cleanCols))
		w.buf = w.buf[:0]
		for i := range rows.len() {
			rows.row(w, i)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows.len()), "ns/row")
}

// escapeRef is LOAD DATA's escaping written the obvious way.
var escapeRef = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`)

func TestAppendEscaped(t *testing.T) {
	for _, in := range []string{
		"", "plain", `\`, "\t", "\n", "a\tb\nc\\d", "\t\t\t\t", `\\\\`, "\n\\\t",
		"GET /x?q=1;DROP TABLE raw_log;--\t<script>\\</script>\n",
		strings.Repeat("\t", 100000), strings.Repeat("ab\\", 1000) + strings.Repeat("z", 5000),
		"\x00\xff\xfe\t",
	} {
		want := "prefix:" + escapeRef.Replace(in)
		if got := string(appendEscaped([]byte("prefix:"), in)); got != want {
			t.Errorf("string %.40q: got %.60q want %.60q", in, got, want)
		}
		if got := string(appendEscaped([]byte("prefix:"), []byte(in))); got != want {
			t.Errorf("bytes %.40q: got %.60q want %.60q", in, got, want)
		}
	}
}

func FuzzAppendEscaped(f *testing.F) {
	f.Add([]byte("a\tb\nc\\d"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := string(appendEscaped(nil, in)), escapeRef.Replace(string(in)); got != want {
			t.Fatalf("%q: got %q want %q", in, got, want)
		}
	})
}
