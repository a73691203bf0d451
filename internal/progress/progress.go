// Package progress draws a one-line progress bar on a terminal: how far a
// read of existing log files has got, what RabbitMQ confirmed and what the
// tables hold, the rate and the time left. It draws nothing on anything
// but a terminal, so logs and pipes stay clean.
package progress

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Counts is a snapshot of a run.
type Counts struct {
	Lines     int64 // read
	Confirmed int64 // by RabbitMQ; -1 when not known
	Stored    int64 // in both tables; -1 when not known
	Done      int64 // bytes read
	Total     int64 // bytes to read; 0 when not known
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// width is f's width in columns (80 when it cannot be told).
func width(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col < 20 {
		return 80
	}
	return int(ws.Col)
}

// Bar redraws a line on a terminal until stopped.
type Bar struct {
	f     *os.File
	read  func() Counts
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// Start draws the bar for read's counts on f every interval, or returns
// nil (a Bar whose Stop does nothing) when f is not a terminal.
func Start(f *os.File, interval time.Duration, read func() Counts) *Bar {
	if !IsTerminal(f) {
		return nil
	}
	b := &Bar{f: f, read: read, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop(interval)
	return b
}

func (b *Bar) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		b.draw()
		select {
		case <-b.stop:
			b.draw()
			fmt.Fprintln(b.f)
			return
		case <-t.C:
		}
	}
}

func (b *Bar) draw() {
	// \r and "erase to the end of the line" redraw in place.
	fmt.Fprint(b.f, "\r"+Render(b.read(), time.Since(b.start), width(b.f)-1)+"\x1b[K")
}

// Stop draws the last state and ends the line.
func (b *Bar) Stop() {
	if b == nil {
		return
	}
	b.once.Do(func() { close(b.stop) })
	<-b.done
}

// Render is the bar's text for c after elapsed, at most cols wide.
func Render(c Counts, elapsed time.Duration, cols int) string {
	var parts []string
	secs := max(elapsed.Seconds(), 0.001)
	if c.Total > 0 {
		frac := min(float64(c.Done)/float64(c.Total), 1)
		parts = append(parts, bar(frac, 20), fmt.Sprintf("%3.0f%%", 100*frac))
	}
	parts = append(parts, Thousands(c.Lines)+" lines read")
	if c.Confirmed >= 0 {
		parts = append(parts, Thousands(c.Confirmed)+" confirmed")
	}
	if c.Stored >= 0 {
		parts = append(parts, Thousands(c.Stored)+" stored")
	}
	parts = append(parts, Thousands(int64(float64(c.Lines)/secs))+" lines/s")
	if c.Total > 0 && c.Done > 0 && c.Done < c.Total {
		left := time.Duration(float64(elapsed) * float64(c.Total-c.Done) / float64(c.Done))
		parts = append(parts, "ETA "+clock(left))
	} else {
		parts = append(parts, clock(elapsed))
	}
	s := strings.Join(parts, "  ")
	if cols > 0 && len(s) > cols {
		s = s[:cols]
	}
	return s
}

func bar(frac float64, n int) string {
	full := int(frac * float64(n))
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", n-full) + "]"
}

// clock is d as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Thousands writes n with comma separators.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// Status prints line() on its own line every interval until stop is
// closed, when w is a terminal (run's status on a terminal).
func Status(f *os.File, interval time.Duration, stop <-chan struct{}, line func() string) {
	if !IsTerminal(f) {
		return
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintln(f, line())
			}
		}
	}()
}
