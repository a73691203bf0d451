package tail

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestAckPrefix(t *testing.T) {
	// Lines of 10 bytes starting at 100: [100,110) [110,120) ...
	line := func(i int) (int64, int64) { return 100 + int64(i)*10, 110 + int64(i)*10 }
	for _, tc := range []struct {
		name string
		acks []int // line numbers in ack order; -1 acks an unknown file
		want int64
	}{
		{"none", nil, 100},
		{"in order", []int{0, 1, 2}, 130},
		{"gap stays", []int{0, 2, 3}, 110},
		{"gap filled", []int{2, 3, 0, 1}, 140},
		{"reverse", []int{4, 3, 2, 1, 0}, 150},
		{"duplicates", []int{0, 0, 1, 1, 0}, 120},
		{"only later lines", []int{1, 2, 3}, 100},
		{"unknown file ignored", []int{-1, 0}, 110},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := New(Config{Paths: []string{"x"}, Logger: discard})
			if err != nil {
				t.Fatal(err)
			}
			e := &entry{id: FileID{1}, acked: 100, size: -1}
			tl.entries[e.id] = e
			for _, i := range tc.acks {
				if i < 0 {
					tl.Ack(FileID{2}, 100, 110)
					continue
				}
				off, end := line(i)
				tl.Ack(e.id, off, end)
			}
			if e.acked != tc.want {
				t.Fatalf("checkpoint %d, want %d", e.acked, tc.want)
			}
		})
	}
}

func TestCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	appendFile(t, p, "a\nb\n")
	cfg := testConfig(dir, p)
	h := start(t, cfg, true)
	h.waitN(2, 2e9)
	h.stop()
	ents, err := os.ReadDir(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != stateFile {
		t.Fatalf("state dir holds %v, want only %s", ents, stateFile)
	}
	b, _ := os.ReadFile(filepath.Join(cfg.StateDir, stateFile))
	var st jsonState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Files) != 1 || st.Files[0].Offset != 4 || st.Files[0].Path != p {
		t.Fatalf("state %s", b)
	}
	// A damaged checkpoint file is an error, not a silent re-read.
	os.WriteFile(filepath.Join(cfg.StateDir, stateFile), []byte("{"), 0o644)
	if _, err := New(cfg); err == nil {
		t.Fatal("New accepted a corrupt checkpoint file")
	}
}
