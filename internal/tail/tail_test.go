package tail

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestGrowthAndPartialLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	appendFile(t, p, "one\ntwo\n")
	h := start(t, testConfig(dir, p), true)
	h.waitN(2, 2*time.Second)
	appendFile(t, p, "thr")
	h.settle(2, 150*time.Millisecond)
	appendFile(t, p, "ee\nfour\n")
	ls := h.waitN(4, 2*time.Second)
	if got, want := texts(ls), []string{"one", "two", "three", "four"}; !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	checkChain(t, ls)
	if ls[2].Offset != 8 || ls[2].End() != 14 {
		t.Fatalf("offsets %d %d", ls[2].Offset, ls[2].End())
	}
	if err := h.stop(); err == nil {
		t.Fatal("Run returned nil after cancel, want context.Canceled")
	}
}

func TestCheckpointResume(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	appendFile(t, p, "a\nb\nc\nd\ne\n")
	cfg := testConfig(dir, p)
	h := start(t, cfg, false)
	ls := h.waitN(5, 2*time.Second)
	// Ack out of order: a, c, b, e (d stays unacked).
	for _, i := range []int{0, 2, 1, 4} {
		h.tl.Ack(ls[i].File, ls[i].Offset, ls[i].End())
	}
	h.stop()

	h2 := start(t, cfg, true)
	ls2 := h2.waitN(2, 2*time.Second)
	if got, want := texts(ls2), []string{"d", "e"}; !slices.Equal(got, want) {
		t.Fatalf("after restart got %q want %q", got, want)
	}
	if ls2[0].ID() != ls[3].ID() {
		t.Fatal("resent line changed its id")
	}
	h2.settle(2, 100*time.Millisecond)
}

func TestResumeAfterUnterminatedFinalLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	appendFile(t, p, "a\nhalf")
	cfg := testConfig(dir, p)
	cfg.Follow = false
	h := start(t, cfg, true)
	ls := h.waitN(2, 2*time.Second)
	if string(ls[1].Data) != "half" {
		t.Fatalf("got %q", texts(ls))
	}
	// Run returns by itself; wait for the final checkpoint.
	select {
	case err := <-h.done:
		h.done <- err // for stop
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return")
	}
	h.tl.Flush()
	appendFile(t, p, " done\nb\n")
	cfg.Follow = true
	h2 := start(t, cfg, true)
	h2.waitN(2, 2*time.Second)
	ls2 := h2.settle(2, 100*time.Millisecond)
	if got, want := texts(ls2), []string{" done", "b"}; !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if ls2[0].File != ls[0].File {
		t.Fatal("file identity changed")
	}
}

func TestRelativePathBecomesAbsolute(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "access.log"), "one\n")
	t.Chdir(dir)
	cfg := testConfig(dir, "access.log")
	cfg.StateDir = ""
	h := start(t, cfg, true)
	ls := h.waitN(1, 2*time.Second)
	if want := filepath.Join(dir, "access.log"); ls[0].Path != want {
		t.Fatalf("line names its file %q, want %q", ls[0].Path, want)
	}
	h.settle(1, 50*time.Millisecond)
}
