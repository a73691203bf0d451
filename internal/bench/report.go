package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report is what `datastream bench` prints: the runs, the medians per mode
// and, with the ceilings, the ratios of Datastream to the broker's limits.
type Report struct {
	Runs    []*Result `json:"runs"`
	Ceiling *Result   `json:"ceiling,omitempty"` // median run by end-to-end rate
	Bare    *Result   `json:"bare,omitempty"`
	Real    *Result   `json:"datastream,omitempty"`
	// Ratio is Datastream's end-to-end rate over the ceiling's (its own
	// messages); BareRatio over the bare ceiling's (the line alone).
	Ratio     float64 `json:"ratio,omitempty"`
	BareRatio float64 `json:"bare_ratio,omitempty"`
	// PairRatios is the same ratio for each back-to-back pair of runs (the
	// i-th ceiling run with the i-th Datastream run): the machine's speed
	// drifts between pairs, so their spread says how far to trust Ratio.
	PairRatios     []float64 `json:"pair_ratios,omitempty"`
	BarePairRatios []float64 `json:"bare_pair_ratios,omitempty"`
}

// NewReport picks the median run of each mode.
func NewReport(runs []*Result) *Report {
	r := &Report{Runs: runs}
	r.Ceiling = median(runs, Ceiling)
	r.Bare = median(runs, Bare)
	r.Real = median(runs, Datastream)
	r.Ratio, r.PairRatios = ratios(runs, r.Real, r.Ceiling)
	r.BareRatio, r.BarePairRatios = ratios(runs, r.Real, r.Bare)
	return r
}

// ratios is real's end-to-end rate over limit's, and the same for each
// pair of runs of the two modes.
func ratios(runs []*Result, real, limit *Result) (float64, []float64) {
	if real == nil || limit == nil || limit.EndToEndPerSec <= 0 {
		return 0, nil
	}
	var pairs []float64
	lim, ds := ofMode(runs, limit.Mode), ofMode(runs, real.Mode)
	for i := 0; i < len(lim) && i < len(ds); i++ {
		if lim[i].EndToEndPerSec > 0 {
			pairs = append(pairs, ds[i].EndToEndPerSec/lim[i].EndToEndPerSec)
		}
	}
	return real.EndToEndPerSec / limit.EndToEndPerSec, pairs
}

// ofMode returns the runs of mode m, in order.
func ofMode(runs []*Result, m Mode) []*Result {
	var of []*Result
	for _, r := range runs {
		if r.Mode == m {
			of = append(of, r)
		}
	}
	return of
}

func median(runs []*Result, m Mode) *Result {
	of := ofMode(runs, m)
	if len(of) == 0 {
		return nil
	}
	sort.Slice(of, func(i, j int) bool { return of[i].EndToEndPerSec < of[j].EndToEndPerSec })
	return of[(len(of)-1)/2]
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	cols := r.Runs
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(*Result) string) {
		cells := []string{label}
		for _, c := range cols {
			cells = append(cells, f(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	num := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	lat := func(l *Latency, f func(*Latency) float64) string {
		if l == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f", f(l))
	}
	row("run", func(c *Result) string { return string(c.Mode) })
	row("lines", func(c *Result) string { return fmt.Sprint(c.Lines) })
	row("lines/message", func(c *Result) string { return LinesPerMessageFlag(c.LinesPerMessage) })
	row("queue type", func(c *Result) string { return c.QueueType })
	row("write rate (lines/s)", func(c *Result) string {
		if c.Rate > 0 {
			return num(c.Rate)
		}
		return "max"
	})
	row("read lines/s", func(c *Result) string { return num(c.ReadPerSec) })
	row("published+confirmed lines/s", func(c *Result) string { return num(c.ConfirmedPerSec) })
	row("lake rows/s (acked)", func(c *Result) string { return num(c.LakePerSec) })
	row("clean rows/s (acked)", func(c *Result) string { return num(c.CleanPerSec) })
	row("END-TO-END lines/s", func(c *Result) string { return num(c.EndToEndPerSec) })
	row("seconds", func(c *Result) string { return fmt.Sprintf("%.2f", c.Seconds) })
	row("raw / clean rows", func(c *Result) string {
		if c.Mode != Datastream {
			return "-"
		}
		return fmt.Sprintf("%d / %d", c.RawRows, c.CleanRows)
	})
	row("latency p50 ms", func(c *Result) string { return lat(c.Latency, func(l *Latency) float64 { return l.P50 }) })
	row("latency p99 ms", func(c *Result) string { return lat(c.Latency, func(l *Latency) float64 { return l.P99 }) })
	row("latency max ms", func(c *Result) string { return lat(c.Latency, func(l *Latency) float64 { return l.Max }) })
	row("  lake p99 / clean p99 ms", func(c *Result) string {
		if c.LakeLatency == nil || c.CleanLatency == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f / %.1f", c.LakeLatency.P99, c.CleanLatency.P99)
	})
	for i, name := range []string{"producer", "lake", "clean"} {
		row(name+" CPU s (user+sys)", func(c *Result) string {
			if i >= len(c.Components) {
				return "-"
			}
			return fmt.Sprintf("%.2f", c.Components[i].CPUSeconds)
		})
		row(name+" RSS MB peak (half/end)", func(c *Result) string {
			if i >= len(c.Components) {
				return "-"
			}
			p := c.Components[i]
			return fmt.Sprintf("%.1f (%.1f/%.1f)", p.PeakRSSMB, p.HalfRSSMB, p.EndRSSMB)
		})
		if name != "producer" {
			row(name+" batches (LOAD DATA/INSERT again)", func(c *Result) string {
				if i >= len(c.Components) || c.Mode != Datastream {
					return "-"
				}
				p := c.Components[i]
				return fmt.Sprintf("%d (%d/%d)", p.Batches, p.Loads, p.Fallbacks)
			})
		}
	}
	for _, name := range []string{"rabbitmq", "mariadb"} {
		row(name+" CPU s (µs/line)", func(c *Result) string {
			for _, s := range c.Servers {
				if s.Name == name {
					return fmt.Sprintf("%.2f (%.1f)", s.CPUSeconds, s.MicrosPerLine)
				}
			}
			return "-"
		})
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Real != nil && (r.Ceiling != nil || r.Bare != nil) {
		fmt.Fprintln(w)
	}
	for _, lim := range []struct {
		run   *Result
		ratio float64
		pairs []float64
		what  string
	}{{r.Bare, r.BareRatio, r.BarePairRatios, "the bare ceiling (messages of the line alone)"}, {r.Ceiling, r.Ratio, r.PairRatios, "the ceiling (Datastream's own messages)"}} {
		if lim.run == nil || r.Real == nil {
			continue
		}
		fmt.Fprintf(w, "end to end: datastream %.0f lines/s, %s %.0f lines/s (medians of %d and %d runs): %.1f%%\n",
			r.Real.EndToEndPerSec, lim.run.Mode, lim.run.EndToEndPerSec, count(r.Runs, Datastream), count(r.Runs, lim.run.Mode), 100*lim.ratio)
		fmt.Fprintf(w, "  of %s\n", lim.what)
		if len(lim.pairs) > 1 {
			pairs := make([]string, len(lim.pairs))
			for i, v := range lim.pairs {
				pairs[i] = fmt.Sprintf("%.1f%%", 100*v)
			}
			fmt.Fprintf(w, "  each pair of runs: %s (median %.1f%%)\n", strings.Join(pairs, ", "), 100*medianOf(lim.pairs))
		}
	}
	if r.Ceiling == nil && r.Bare == nil && r.Real != nil && count(r.Runs, Datastream) > 1 {
		fmt.Fprintf(w, "\nend to end: datastream %.0f lines/s (median of %d runs)\n", r.Real.EndToEndPerSec, count(r.Runs, Datastream))
	}
	return nil
}

// medianOf is the median of v, the mean of the middle two for an even count.
func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	mid := s[len(s)/2]
	if len(s)%2 == 0 {
		mid = (s[len(s)/2-1] + mid) / 2
	}
	return mid
}

func count(runs []*Result, m Mode) int { return len(ofMode(runs, m)) }
