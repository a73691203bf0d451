package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/pipeline"
	"github.com/datastream/datastream/internal/record"
	"github.com/datastream/datastream/internal/tail"
	"github.com/datastream/datastream/internal/testenv"
)

// TestProducerPacksOnDemand: in the default mode, lines already waiting
// go out packed, within the limits and never across files, each file's
// source is announced, and every line arrives once with its id.
func TestProducerPacksOnDemand(t *testing.T) {
	env := testenv.Parallel(t)
	dir := t.TempDir()
	want := map[string]int{} // line → files it was written to
	for f, n := range map[string]int{"a.log": 5000, "b.log": 30} {
		var body []byte
		for i := range n {
			l := fmt.Sprintf("%s line %d %0*d", f, i, i%400, 0) // up to ~400 bytes
			body = append(append(body, l...), '\n')
			want[l]++
		}
		if err := os.WriteFile(filepath.Join(dir, f), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod, err := pipeline.NewProducer(pipeline.ProducerConfig{
		Tail:      tail.Config{Paths: []string{filepath.Join(dir, "*.log")}},
		Publisher: broker.PublisherConfig{Dialer: env.Dialer(), Topology: env.Topology("classic")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if r, c := prod.Stats.Read.Load(), prod.Stats.Confirmed.Load(); r != int64(len(want)) || c != r {
		t.Fatalf("read %d, confirmed %d, want %d", r, c, len(want))
	}

	ch, done := env.Channel(t)
	defer done()
	var messages, packed int
	sources := map[[8]byte]record.Source{}
	var lines []record.Line
	for {
		d, ok, err := ch.Get(env.LakeQueue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if len(d.Headers) != 0 {
			t.Fatalf("message with headers %v", d.Headers)
		}
		if broker.IsSource(&d) {
			src, err := broker.DecodeSource(&d)
			if err != nil {
				t.Fatal(err)
			}
			sources[src.File] = src
			continue
		}
		messages++
		n := len(lines)
		if lines, err = broker.Decode(lines, &d); err != nil {
			t.Fatal(err)
		}
		if got := len(lines) - n; got > pipeline.AutoPackLines || len(d.Body) > pipeline.AutoPackBytes {
			t.Fatalf("a message of %d lines, %d bytes: over the limits", got, len(d.Body))
		} else if got > 1 {
			packed++
		}
	}
	if len(sources) != 2 {
		t.Fatalf("%d sources announced, want 2: %v", len(sources), sources)
	}
	seen := map[record.ID]bool{}
	for _, l := range lines {
		src, ok := sources[l.ID.File()]
		if !ok || !l.SourceInID {
			t.Fatalf("line %q: file not announced", l.Data)
		}
		if filepath.Base(src.Path) != string(l.Data[:5]) { // "a.log" or "b.log": never across files
			t.Fatalf("line %q in a message of file %s", l.Data, src.Path)
		}
		if seen[l.ID] {
			t.Fatalf("line %s twice", l.ID)
		}
		seen[l.ID] = true
		want[string(l.Data)]--
	}
	for l, n := range want {
		if n != 0 {
			t.Fatalf("line %q: %d missing", l, n)
		}
	}
	// 5,030 lines already waiting: they cannot have gone one by one.
	if packed == 0 || messages >= len(seen) {
		t.Fatalf("%d messages (%d packed) for %d lines: nothing packed", messages, packed, len(seen))
	}
	t.Logf("%d lines in %d messages (%d packed)", len(seen), messages, packed)
}
