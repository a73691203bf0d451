package tail

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// writer appends numbered lines "<tag>-<n>" through its own descriptor, like nginx.
type writer struct {
	t    *testing.T
	path string
	f    *os.File
	n    int
}

func newWriter(t *testing.T, path string) *writer {
	w := &writer{t: t, path: path}
	w.reopen()
	return w
}

func (w *writer) reopen() {
	if w.f != nil {
		w.f.Close()
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

func (w *writer) write(k int) {
	var b bytes.Buffer
	for range k {
		fmt.Fprintf(&b, "line-%06d %s\n", w.n, strings.Repeat("x", w.n%37))
		w.n++
	}
	if _, err := w.f.Write(b.Bytes()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *writer) close() { w.f.Close() }

// checkSequence verifies that lines are line-000000 … line-(n-1), each exactly once, in order.
func checkSequence(t *testing.T, ls []Line, n int) {
	t.Helper()
	if len(ls) != n {
		t.Fatalf("got %d lines, want %d", len(ls), n)
	}
	for i, l := range ls {
		if want := fmt.Sprintf("line-%06d ", i); !bytes.HasPrefix(l.Data, []byte(want)) {
			t.Fatalf("line %d is %q, want prefix %q", i, l.Data, want)
		}
	}
	checkChain(t, ls)
}

// perFileOrder groups lines per file in arrival order, orders the files by
// their first line and checks the concatenation: every line exactly once, in
// order within each file.
func perFileOrder(t *testing.T, ls []Line, n int) {
	t.Helper()
	groups := map[FileID][]Line{}
	var order []FileID
	for _, l := range ls {
		if _, ok := groups[l.File]; !ok {
			order = append(order, l.File)
		}
		groups[l.File] = append(groups[l.File], l)
	}
	var all []Line
	slices.SortFunc(order, func(a, b FileID) int { return bytes.Compare(groups[a][0].Data, groups[b][0].Data) })
	for _, id := range order {
		all = append(all, groups[id]...)
	}
	checkSequence(t, all, n)
}

func TestRenameRotationWhileWriting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern string
		// live is how long a new file exists before it is rotated. With a
		// pattern that only matches the live name, a file renamed away
		// before the tailer has seen it at all would be missed (as with
		// tail -F), so it must live a little; a pattern matching the
		// rotated names too has no such window.
		live     time.Duration
		compress bool // gzip the rotated file (logrotate without delaycompress)
	}{
		{"live name only", "access.log", 100 * time.Millisecond, false},
		{"rotated names match", "access.log*", 0, false},
		{"rotated and compressed", "access.log*", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "access.log")
			w := newWriter(t, p)
			defer w.close()
			w.write(100)
			cfg := testConfig(dir, filepath.Join(dir, tc.pattern))
			h := start(t, cfg, true)
			h.waitN(100, 2*time.Second)
			for round := range 3 {
				w.write(50)
				rotated := fmt.Sprintf("%s.%d", p, round+1)
				if err := os.Rename(p, rotated); err != nil {
					t.Fatal(err)
				}
				// nginx keeps writing to the old descriptor until it reopens.
				for range 5 {
					w.write(20)
					time.Sleep(15 * time.Millisecond)
				}
				w.reopen()
				w.write(30)
				if tc.compress {
					data, err := os.ReadFile(rotated)
					if err != nil {
						t.Fatal(err)
					}
					writeGz(t, rotated+".gz", string(data))
					os.Remove(rotated)
				}
				time.Sleep(tc.live)
			}
			h.waitN(w.n, 5*time.Second)
			ls := h.settle(w.n, 2*cfg.DrainIdle)
			perFileOrder(t, ls, w.n)
			files := map[FileID]bool{}
			for _, l := range ls {
				files[l.File] = true
			}
			if len(files) != 4 {
				t.Fatalf("%d file ids, want 4", len(files))
			}
		})
	}
}

func TestCopyTruncateRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	w := newWriter(t, p)
	defer w.close()
	h := start(t, testConfig(dir, p), true)

	var mu sync.Mutex // held by "logrotate" around copy+truncate: the writer pauses
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			w.write(10)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	for round := range 5 {
		time.Sleep(60 * time.Millisecond)
		mu.Lock()
		// Like logrotate with a cooperative writer: the copy and the
		// truncation happen while nothing is written, and the reader has
		// caught up (otherwise lines between its position and the copy
		// would only be in the copy: the inherent copytruncate race).
		h.waitN(w.n, 5*time.Second)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fmt.Sprintf("%s.%d", p, round+1), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
		// Write a burst at once so the file regrows past the old offset
		// before the tailer polls: detection must not rely on size alone.
		w.write(400)
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	h.waitN(w.n, 5*time.Second)
	ls := h.settle(w.n, 100*time.Millisecond)
	// One path, one writer: arrival order is the order of writing.
	checkSequence(t, ls, w.n)
	files := map[FileID]bool{}
	for _, l := range ls {
		files[l.File] = true
	}
	if len(files) != 6 {
		t.Fatalf("%d file ids, want 6", len(files))
	}
}

func TestCopyTruncateSameFirstLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	appendFile(t, p, "#header\nA1\nA2\n")
	h := start(t, testConfig(dir, p), true)
	h.waitN(3, 2*time.Second)
	if err := os.WriteFile(p, []byte("#header\n"), 0o644); err != nil { // truncate + write, same first line
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	appendFile(t, p, "B1\n")
	h.waitN(5, 2*time.Second)
	ls := h.settle(5, 100*time.Millisecond)
	if got, want := texts(ls), []string{"#header", "A1", "A2", "#header", "B1"}; !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if ls[0].File == ls[3].File {
		t.Fatal("new content after truncation kept the old FileID")
	}
	if ls[0].ID() == ls[3].ID() {
		t.Fatal("message ids collide")
	}
	h.stop()

	// The generation survives a restart: nothing is re-sent, and new lines
	// continue under the new id.
	appendFile(t, p, "B2\n")
	h2 := start(t, testConfig(dir, p), true)
	ls2 := h2.waitN(1, 2*time.Second)
	h2.settle(1, 100*time.Millisecond)
	if string(ls2[0].Data) != "B2" || ls2[0].File != ls[3].File {
		t.Fatalf("after restart got %q in %s, want B2 in %s", ls2[0].Data, ls2[0].File, ls[3].File)
	}
}

func TestDeleteAndRecreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	appendFile(t, p, "same first line\nold 1\n")
	h := start(t, testConfig(dir, p), true)
	h.waitN(2, 2*time.Second)
	for i := range 3 {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		// The same first line, and very likely the same inode number.
		appendFile(t, p, fmt.Sprintf("same first line\nnew %d\n", i))
		h.waitN(2*(i+2), 2*time.Second)
	}
	ls := h.settle(8, 3*testConfig(dir).DrainIdle)
	ids := map[FileID]int{}
	for _, l := range ls {
		ids[l.File]++
	}
	if len(ids) != 4 {
		t.Fatalf("%d distinct file ids, want 4:\n%s", len(ids), dump(ls))
	}
	checkChain(t, ls)
}

func TestFileAppearsLater(t *testing.T) {
	for _, tc := range []struct {
		name   string
		subdir bool
	}{{"file", false}, {"directory and file", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := dir
			if tc.subdir {
				d = filepath.Join(dir, "nginx")
			}
			p := filepath.Join(d, "access.log")
			h := start(t, testConfig(dir, p), true)
			time.Sleep(100 * time.Millisecond)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			appendFile(t, p, "hello\n")
			ls := h.waitN(1, 2*time.Second)
			if string(ls[0].Data) != "hello" || ls[0].Offset != 0 || ls[0].Path != p {
				t.Fatalf("got %+v", ls[0])
			}
		})
	}
}

func TestGlobTwoFilesAndNewMatch(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a-access.log"), filepath.Join(dir, "b-access.log"), filepath.Join(dir, "c-access.log")
	appendFile(t, a, "a1\na2\n")
	appendFile(t, b, "b1\n")
	appendFile(t, filepath.Join(dir, "error.log"), "not me\n")
	h := start(t, testConfig(dir, filepath.Join(dir, "*access*.log")), true)
	h.waitN(3, 2*time.Second)
	appendFile(t, b, "b2\n")
	appendFile(t, c, "c1\n")
	h.waitN(5, 2*time.Second)
	ls := h.settle(5, 100*time.Millisecond)
	per := map[string][]string{}
	for _, l := range ls {
		per[filepath.Base(l.Path)] = append(per[filepath.Base(l.Path)], string(l.Data))
	}
	want := map[string][]string{"a-access.log": {"a1", "a2"}, "b-access.log": {"b1", "b2"}, "c-access.log": {"c1"}}
	for k, v := range want {
		if !slices.Equal(per[k], v) {
			t.Fatalf("%s: got %q want %q", k, per[k], v)
		}
	}
	if len(per) != 3 {
		t.Fatalf("files %v", per)
	}
}

func writeGz(t *testing.T, path, content string) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(content))
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGzBackfill(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	writeGz(t, p+".2.gz", "old1\nold2\nold3 no newline")
	appendFile(t, p, "cur1\n")
	cfg := testConfig(dir, p, p+".*.gz")
	h := start(t, cfg, false)
	h.waitN(4, 2*time.Second)
	ls := h.settle(4, 100*time.Millisecond)
	var gz []Line
	for _, l := range ls {
		if strings.HasSuffix(l.Path, ".gz") {
			gz = append(gz, l)
		}
	}
	if got, want := texts(gz), []string{"old1", "old2", "old3 no newline"}; !slices.Equal(got, want) {
		t.Fatalf("gz lines %q want %q", got, want)
	}
	if gz[2].Offset != 10 || gz[2].End() != 25 {
		t.Fatalf("gz final line offsets %d..%d", gz[2].Offset, gz[2].End())
	}
	// Ack all but the last gz line: a restart re-sends only that one.
	for _, l := range ls[:] {
		if l.Offset != 10 || !strings.HasSuffix(l.Path, ".gz") {
			h.tl.Ack(l.File, l.Offset, l.End())
		}
	}
	h.stop()
	h2 := start(t, cfg, true)
	ls2 := h2.waitN(1, 2*time.Second)
	h2.settle(1, 100*time.Millisecond)
	if string(ls2[0].Data) != "old3 no newline" || ls2[0].ID() != gz[2].ID() {
		t.Fatalf("restart got %q", ls2[0].Data)
	}
	h2.stop()
	// Now fully acknowledged: marked done, never read again.
	h3 := start(t, cfg, true)
	h3.settle(0, 200*time.Millisecond)
}

func TestResumeFileRotatedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	appendFile(t, p, "1\n2\n3\n")
	cfg := testConfig(dir, p)
	h := start(t, cfg, false)
	ls := h.waitN(3, 2*time.Second)
	h.tl.Ack(ls[0].File, ls[0].Offset, ls[0].End())
	h.stop() // "crash" with 2 and 3 in flight
	appendFile(t, p, "4\n")
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "new1\n")
	h2 := start(t, cfg, true)
	h2.waitN(4, 2*time.Second)
	ls2 := h2.settle(4, 100*time.Millisecond)
	var old, cur []string
	for _, l := range ls2 {
		if l.File == ls[0].File {
			old = append(old, string(l.Data))
			if l.Path != p+".1" {
				t.Fatalf("path %q, want the new name", l.Path)
			}
		} else {
			cur = append(cur, string(l.Data))
		}
	}
	if !slices.Equal(old, []string{"2", "3", "4"}) || !slices.Equal(cur, []string{"new1"}) {
		t.Fatalf("old %q new %q", old, cur)
	}
}

func TestLongLines(t *testing.T) {
	mb := strings.Repeat("m", 1<<20)
	for _, tc := range []struct {
		name  string
		max   int
		parts []string // written one after another with pauses
		want  []string
		trunc []bool
	}{
		{"1MB line", 0, []string{"a\n", mb[:300000], mb[300000:], "\nb\n"}, []string{"a", mb, "b"}, []bool{false, false, false}},
		{"over max", 1000, []string{"a\n", strings.Repeat("y", 600), strings.Repeat("y", 5000) + "\nb\n"},
			[]string{"a", strings.Repeat("y", 1000), "b"}, []bool{false, true, false}},
		{"exactly max", 1000, []string{strings.Repeat("z", 1000) + "\n" + strings.Repeat("z", 1001) + "\nc\n"},
			[]string{strings.Repeat("z", 1000), strings.Repeat("z", 1000), "c"}, []bool{false, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "access.log")
			cfg := testConfig(dir, p)
			cfg.MaxLineBytes = tc.max
			h := start(t, cfg, true)
			for _, part := range tc.parts {
				appendFile(t, p, part)
				time.Sleep(50 * time.Millisecond)
			}
			h.waitN(len(tc.want), 3*time.Second)
			ls := h.settle(len(tc.want), 50*time.Millisecond)
			for i, l := range ls {
				if string(l.Data) != tc.want[i] || l.Truncated != tc.trunc[i] {
					t.Fatalf("line %d: %d bytes truncated=%v, want %d bytes truncated=%v", i, len(l.Data), l.Truncated, len(tc.want[i]), tc.trunc[i])
				}
			}
			checkChain(t, ls)
			fi, _ := os.Stat(p)
			if ls[len(ls)-1].End() != fi.Size() {
				t.Fatalf("last end %d, size %d", ls[len(ls)-1].End(), fi.Size())
			}
		})
	}
}

func TestBytesPreserved(t *testing.T) {
	content := "plain\n\n\xff\xfe invalid \xc3\x28 utf8\r\n\x00nul\x1b[31m\n \n\n"
	want := []string{"plain", "", "\xff\xfe invalid \xc3\x28 utf8\r", "\x00nul\x1b[31m", " ", ""}
	for _, follow := range []bool{true, false} {
		t.Run(fmt.Sprint("follow=", follow), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "access.log")
			appendFile(t, p, content)
			cfg := testConfig(dir, p)
			cfg.Follow = follow
			h := start(t, cfg, true)
			h.waitN(len(want), 2*time.Second)
			ls := h.settle(len(want), 50*time.Millisecond)
			for i, l := range ls {
				if string(l.Data) != want[i] || l.Data == nil {
					t.Fatalf("line %d: %q want %q", i, l.Data, want[i])
				}
			}
			// Lines are independent: appending to one must not touch the next.
			_ = append(ls[0].Data, "XXXX"...)
			if string(ls[1].Data) != "" || string(ls[2].Data) != want[2] {
				t.Fatal("line slices share capacity")
			}
		})
	}
}

func TestNoFollowFinalLine(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendFile(t, a, "a1\na2 unterminated")
	appendFile(t, b, "")
	cfg := testConfig(dir, filepath.Join(dir, "*.log"))
	cfg.Follow = false
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Line, 10)
	if err := tl.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var ls []Line
	for l := range out {
		ls = append(ls, l)
	}
	if got := texts(ls); !slices.Equal(got, []string{"a1", "a2 unterminated"}) || ls[1].End() != 18 {
		t.Fatalf("got %q", got)
	}
}

func TestRunStopsPromptlyWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	dir := t.TempDir()
	for i := range 3 {
		appendFile(t, filepath.Join(dir, fmt.Sprintf("%d.log", i)), strings.Repeat("l\n", 1000))
	}
	writeGz(t, filepath.Join(dir, "x.log.gz"), strings.Repeat("z\n", 1000))
	tl, err := New(testConfig(dir, filepath.Join(dir, "*.log*")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Line) // nobody reads: every follower is blocked sending
	done := make(chan error)
	go func() { done <- tl.Run(ctx, out) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return promptly")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

func BenchmarkReadFile(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "access.log")
	var buf bytes.Buffer
	const n = 500000
	for i := range n {
		fmt.Fprintf(&buf, `203.0.113.%d - - [27/Nov/2026:06:09:33 +0000] "GET /static/app.%d.js HTTP/1.1" 200 5120 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"`+"\n", i%250, i)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for range b.N {
		tl, err := New(Config{Paths: []string{p}, Logger: testConfig(dir).Logger})
		if err != nil {
			b.Fatal(err)
		}
		out := make(chan Line, 4096)
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(context.Background(), out); close(out) }()
		got := 0
		for l := range out {
			tl.Ack(l.File, l.Offset, l.End())
			got++
		}
		if err := <-errc; err != nil || got != n {
			b.Fatal(err, got)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
}
