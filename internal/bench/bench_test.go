package bench

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

func TestSummarise(t *testing.T) {
	us := []int64{5000, 1000, 3000, 2000, 4000}
	l := summarise(us)
	if l.P50 != 3 || l.Max != 5 || l.Samples != 5 {
		t.Fatalf("got %+v", l)
	}
	if summarise(nil) != nil {
		t.Fatal("no samples must give no summary")
	}
}

func TestReportRatioAndTable(t *testing.T) {
	runs := []*Result{
		{Mode: Ceiling, EndToEndPerSec: 10000, LinesPerMessage: 1},
		{Mode: Datastream, EndToEndPerSec: 9000, LinesPerMessage: 1, Latency: &Latency{P50: 1, P99: 2, Max: 3},
			Servers: []ServerCPU{{Name: "mariadb", CPUSeconds: 2.5, MicrosPerLine: 25}}},
		{Mode: Ceiling, EndToEndPerSec: 12000, LinesPerMessage: 1},
		{Mode: Datastream, EndToEndPerSec: 8000, LinesPerMessage: 1},
		{Mode: Ceiling, EndToEndPerSec: 11000, LinesPerMessage: 1},
		{Mode: Datastream, EndToEndPerSec: 9900, LinesPerMessage: 1},
		{Mode: Bare, EndToEndPerSec: 20000, LinesPerMessage: 1},
		{Mode: Bare, EndToEndPerSec: 20000, LinesPerMessage: 1},
		{Mode: Bare, EndToEndPerSec: 18000, LinesPerMessage: 1},
	}
	r := NewReport(runs)
	if r.Ceiling.EndToEndPerSec != 11000 || r.Real.EndToEndPerSec != 9000 || r.Bare.EndToEndPerSec != 20000 {
		t.Fatalf("medians: %v %v %v", r.Ceiling.EndToEndPerSec, r.Real.EndToEndPerSec, r.Bare.EndToEndPerSec)
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "ceiling 11000 lines/s (medians of 3 and 3 runs): 81.8%") ||
		!strings.Contains(b.String(), "each pair of runs: 90.0%, 66.7%, 90.0% (median 90.0%)") ||
		!strings.Contains(b.String(), "bare 20000 lines/s (medians of 3 and 3 runs): 45.0%") ||
		!strings.Contains(b.String(), "each pair of runs: 45.0%, 40.0%, 55.0% (median 45.0%)") ||
		!regexp.MustCompile(`mariadb CPU s \(µs/line\) +- +2\.50 \(25\.0\) +- `).MatchString(b.String()) {
		t.Fatalf("table:\n%s", b.String())
	}
}

func TestVmRSS(t *testing.T) {
	if got := vmField([]byte("Name:\tx\nVmHWM:\t  4096 kB\nVmRSS:\t  2048 kB\nVmSwap: 0 kB\n"), "VmRSS:"); got != 2048*1024 {
		t.Fatalf("got %d", got)
	}
}

// TestBenchAgainstServices runs both modes on a few thousand lines with the
// real binary, RabbitMQ and MariaDB, and checks that the bench cleans up.
func TestBenchAgainstServices(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against RabbitMQ and MariaDB")
	}
	dir := t.TempDir()
	bin, err := testenv.BuildBinary(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Binary: bin, AMQPURL: testenv.AMQPURL(), MySQLDSN: testenv.MySQLServerDSN(),
		Lines: 3000, Seed: 7, TempDir: dir, Timeout: 3 * time.Minute,
	}
	in, err := PrepareInput(o)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Lines != 3000 || in.Parsed == 0 {
		t.Fatalf("input: %d lines, %d parsed", in.Lines, in.Parsed)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		mode Mode
		lpm  int
		rate float64
	}{{Bare, 1, 0}, {Ceiling, 1, 0}, {Datastream, 1, 0}, {Datastream, 0, 0}, {Datastream, 50, 0}, {Datastream, 1, 3000}} {
		o := o
		o.LinesPerMessage, o.Rate = tc.lpm, tc.rate
		res, err := Run(ctx, o, in, tc.mode)
		if err != nil {
			t.Fatalf("%s, %d lines/message, rate %v: %v", tc.mode, tc.lpm, tc.rate, err)
		}
		if res.EndToEndPerSec <= 0 || res.ReadPerSec <= 0 || len(res.Components) != 3 {
			t.Errorf("%s: incomplete result %+v", tc.mode, res)
		}
		for _, c := range res.Components {
			if c.CPUSeconds <= 0 || c.PeakRSSMB <= 0 {
				t.Errorf("%s: %s: no resource usage: %+v", tc.mode, c.Name, c)
			}
		}
		// The services of the tests run on this machine: their CPU is in
		// the report (MariaDB's only counts when rows are written).
		cpu := map[string]float64{}
		for _, s := range res.Servers {
			cpu[s.Name] = s.CPUSeconds
		}
		if cpu["rabbitmq"] <= 0 || (tc.mode == Datastream && cpu["mariadb"] <= 0) {
			t.Errorf("%s: server CPU %+v", tc.mode, res.Servers)
		}
		if tc.mode == Datastream {
			if res.RawRows != in.Lines || res.CleanRows != in.Parsed || res.Latency == nil || res.Latency.Samples != int(in.Lines) {
				t.Errorf("%s: rows %d/%d latency %+v", tc.mode, res.RawRows, res.CleanRows, res.Latency)
			}
		}
	}
	// Nothing of ours is left in the temp dir but the binary and the input.
	left, _ := filepath.Glob(filepath.Join(dir, "datastream-bench-run*"))
	if len(left) != 0 {
		t.Errorf("run directories left behind: %v", left)
	}
}
