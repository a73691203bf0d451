package progress

import (
	"os"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Counts
		el   time.Duration
		want string
	}{
		{"half way", Counts{Lines: 5000, Confirmed: 4000, Stored: 3000, Done: 500, Total: 1000}, 10 * time.Second,
			"[##########..........]   50%  5,000 lines read  4,000 confirmed  3,000 stored  500 lines/s  ETA 0:10"},
		{"done", Counts{Lines: 1234567, Confirmed: 1234567, Stored: 1234567, Done: 10, Total: 10}, 3723 * time.Second,
			"[####################]  100%  1,234,567 lines read  1,234,567 confirmed  1,234,567 stored  331 lines/s  1:02:03"},
		{"no total, nothing stored known", Counts{Lines: 10, Confirmed: -1, Stored: -1}, time.Second,
			"10 lines read  10 lines/s  0:01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Render(tc.c, tc.el, 0); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if got := Render(Counts{Lines: 1, Total: 10, Done: 1}, time.Second, 30); len(got) != 30 {
		t.Errorf("not cut to 30 columns: %q", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNothingDrawnOffATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	if IsTerminal(f) {
		t.Fatal("a file is not a terminal")
	}
	b := Start(f, time.Millisecond, func() Counts { return Counts{Lines: 1} })
	time.Sleep(5 * time.Millisecond)
	b.Stop()
	fi, _ := f.Stat()
	if fi.Size() != 0 {
		t.Errorf("%d bytes drawn on a file", fi.Size())
	}
}

func TestSizesReadsGzipContentSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/a.log", make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	// A gzip of 5000 zero bytes (written by hand: 10-byte header, stored
	// block not needed; only the trailer matters to Sizes).
	gz := make([]byte, 30)
	copy(gz, []byte{0x1f, 0x8b, 8})
	gz[26], gz[27] = 0x88, 0x13 // ISIZE = 5000, little-endian
	if err := os.WriteFile(dir+"/b.log.gz", gz, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Sizes(dir + "/*"); got != 5100 {
		t.Errorf("Sizes = %d, want 5100", got)
	}
	if got := Sizes(dir + "/none*"); got != 0 {
		t.Errorf("no match: %d", got)
	}
}
