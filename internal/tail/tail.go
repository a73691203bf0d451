// Package tail follows log files like `tail -F`, exactly: every line is
// handed out once per file identity, in order, with a stable id, and a
// checkpoint per file records how far the consumer has confirmed delivery, so
// a restart resends lines in flight and never skips one.
//
// A file is identified by its device, inode and a fingerprint of its first
// line, so it keeps its identity when logrotate renames it. Rotation by rename
// (the old file is drained while the writer may still append to it),
// copytruncate (the new content gets a new identity), deletion and
// re-creation, files that do not exist yet and new files matching a glob are
// all handled. Directory events from fsnotify wake the tailer early; polling
// always runs as a safety net.
//
// Known limits:
//   - copytruncate is inherently racy: lines written between logrotate's copy
//     and its truncate are in neither file, and lines the tailer had not read
//     yet when the truncation happened are only in the copy. A pattern that
//     matches the copies reads each copy in full as a new file (duplicates
//     under other ids), so keep copytruncate copies out of the patterns. After
//     every read the tailer re-checks the file (size, first line, newline
//     before the last line end), so new content is never sent under the old
//     identity; a truncated file that grows back past the old position with
//     an identical first line and a newline exactly there cannot be told
//     apart from growth. Unterminated bytes of truncated content are dropped.
//   - A file renamed away from the patterns before the tailer has seen it at
//     all (within one poll or fsnotify wake-up) is missed, as with tail -F;
//     patterns that also match the rotated names (access.log*) close that
//     window, and inode identity keeps the renamed file from being read twice.
//   - A rotated file is drained until it has been idle for DrainIdle; a
//     writer that appends to it later than that loses those lines.
//   - A file renamed while the tailer was stopped is found again only in the
//     directory it was in.
//   - One Tailer per StateDir.
package tail

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileID is the stable identity of one file: a hash of its device, inode and
// a fingerprint of its first line (plus a generation counter when the same
// inode starts over with an identical first line). It survives renames.
type FileID [8]byte

// String returns the id in hex.
func (id FileID) String() string { return fmt.Sprintf("%x", id[:]) }

// Line is one line of a followed file.
type Line struct {
	File   FileID
	Path   string // path the file had when opened
	Offset int64  // byte offset of the line's first byte in the (decompressed) file
	// Data is the line without its trailing '\n', byte for byte (a '\r' is
	// kept). The receiver owns it.
	Data []byte
	// Truncated: the line was longer than MaxLineBytes; Data holds its first
	// MaxLineBytes bytes, the rest up to the newline was skipped.
	Truncated bool

	end int64
}

// End returns the offset just past the line's newline (for a final line
// without a newline, just past its last byte).
func (l Line) End() int64 {
	if l.end != 0 {
		return l.end
	}
	return l.Offset + int64(len(l.Data)) + 1
}

// ID is the message id of the line: 8 bytes FileID then the big-endian
// offset. The same line always gets the same id.
func (l Line) ID() [16]byte {
	var id [16]byte
	copy(id[:8], l.File[:])
	binary.BigEndian.PutUint64(id[8:], uint64(l.Offset))
	return id
}

// Config configures a Tailer.
type Config struct {
	// Paths are files or globs (/var/log/nginx/*access*.log). Every matching
	// file is followed on its own; new matches are picked up while following.
	// Files ending in .gz are read once, decompressed, for backfill.
	Paths []string
	// StateDir holds the checkpoints; "" means none (always start at 0).
	StateDir string
	// Follow keeps reading as files grow. Without it each file is read to
	// its end (a final unterminated line included) and Run returns nil.
	Follow bool
	// PollInterval is the polling period for growth and rotation checks
	// (default 250ms).
	PollInterval time.Duration
	// DrainIdle is how long a file that was rotated away or deleted must
	// stay idle before it is closed (default 4×PollInterval, at least 1s).
	DrainIdle time.Duration
	// MaxLineBytes caps the bytes kept of one line (default 4 MiB).
	MaxLineBytes int
	// Logger receives rotation notices and I/O errors (default slog.Default()).
	Logger *slog.Logger
}

// Tailer follows the files of a Config. Create it with New, run it once with
// Run; Ack and Flush may be called from any goroutine.
type Tailer struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	entries map[FileID]*entry
	dirty   bool

	flushMu sync.Mutex
	running sync.Mutex // Run is single-use at a time
}

// New validates cfg and loads the checkpoints from cfg.StateDir.
func New(cfg Config) (*Tailer, error) {
	if len(cfg.Paths) == 0 {
		return nil, errors.New("tail: no paths")
	}
	// Lines name their file by its path, and "access.log" says nothing once
	// it is in a table (or when two producers run in different directories):
	// relative paths and patterns are made absolute.
	paths := make([]string, len(cfg.Paths))
	for i, p := range cfg.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("tail: bad pattern %q: %w", p, err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("tail: path %q: %w", p, err)
		}
		paths[i] = abs
	}
	cfg.Paths = paths
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.DrainIdle <= 0 {
		cfg.DrainIdle = max(4*cfg.PollInterval, time.Second)
	}
	if cfg.MaxLineBytes < 0 {
		return nil, errors.New("tail: negative MaxLineBytes")
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = 4 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
			return nil, fmt.Errorf("tail: state dir: %w", err)
		}
	}
	entries, err := loadState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	return &Tailer{cfg: cfg, log: cfg.Logger, entries: entries}, nil
}

// Ack records that the line [offset, end) of file was delivered. It may be
// called from any goroutine and in any order; the checkpoint of the file
// advances only over a gap-free prefix of acknowledged lines.
func (t *Tailer) Ack(file FileID, offset, end int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[file]
	if e == nil || end <= e.acked {
		return
	}
	if offset != e.acked {
		if offset > e.acked {
			if e.pending == nil {
				e.pending = make(map[int64]int64)
			}
			e.pending[offset] = end
		}
		return
	}
	e.acked = end
	for len(e.pending) > 0 {
		next, ok := e.pending[e.acked]
		if !ok {
			break
		}
		delete(e.pending, e.acked)
		e.acked = next
	}
	t.dirty = true
}

// Flush writes the checkpoints now. It is a no-op without a StateDir.
func (t *Tailer) Flush() error {
	if t.cfg.StateDir == "" {
		return nil
	}
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.Lock()
	data, err := encodeState(t.entries, time.Now())
	t.dirty = false
	t.mu.Unlock()
	if err == nil {
		err = writeFileAtomic(filepath.Join(t.cfg.StateDir, stateFile), data)
	}
	if err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return fmt.Errorf("tail: write checkpoints: %w", err)
	}
	return nil
}

// flushIfDirty writes the checkpoints when something changed since the last write.
func (t *Tailer) flushIfDirty() {
	t.mu.Lock()
	dirty := t.dirty
	t.mu.Unlock()
	if dirty {
		if err := t.Flush(); err != nil {
			t.log.Error("tail: checkpoint", "err", err)
		}
	}
}

// claim finds or creates the entry for a plain file's content and marks it
// active. It returns the entry and the offset to read from.
func (t *Tailer) claim(path string, dev, ino uint64, fp [8]byte, size int64, lineEndOK func(int64) bool) (*entry, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var best *entry
	var maxGen uint32
	found := false
	for _, e := range t.entries {
		if e.gz || e.dev != dev || e.ino != ino || e.fp != fp {
			continue
		}
		if !found || e.gen > maxGen {
			maxGen = e.gen
		}
		found = true
		if !e.dead && !e.active && (best == nil || e.gen > best.gen) {
			best = e
		}
	}
	if best != nil && best.gen == maxGen {
		start := max(best.acked, best.read)
		if start <= size && (start == 0 || start == best.partial || lineEndOK(start)) {
			best.active, best.path, best.seen = true, path, time.Now()
			return best, start
		}
		// The content shrank or moved under the checkpoint while we were not
		// looking: it is not the same content any more.
		best.dead = true
		t.log.Warn("tail: file truncated since checkpoint, starting over", "path", path, "checkpoint", start, "size", size)
	}
	var gen uint32
	if found {
		gen = maxGen + 1
	}
	e := &entry{path: path, dev: dev, ino: ino, fp: fp, gen: gen, size: -1, active: true, seen: time.Now()}
	e.id = fileID(false, dev, ino, fp, gen)
	t.entries[e.id] = e
	t.dirty = true
	return e, 0
}

// claimGz finds or creates the entry of a .gz file. ok is false when the file
// has already been read in full (in this run or, acknowledged, before), and
// later is set when it should be looked at again on a later scan.
//
// A .gz whose first line is that of a plain file already followed is taken to
// be that file compressed by logrotate: its backfill starts where the plain
// file's reading ended (after its follower is done), so lines are not sent
// twice under two ids.
func (t *Tailer) claimGz(path string, dev, ino uint64, fp [8]byte) (e *entry, start int64, ok, later bool) {
	id := fileID(true, dev, ino, fp, 0)
	t.mu.Lock()
	defer t.mu.Unlock()
	e = t.entries[id]
	if e == nil {
		var skip int64
		for _, p := range t.entries {
			if p.gz || p.fp != fp {
				continue
			}
			if p.active {
				return nil, 0, false, true
			}
			skip = max(skip, p.acked, p.read)
		}
		e = &entry{id: id, path: path, dev: dev, ino: ino, fp: fp, gz: true, size: -1, acked: skip}
		t.entries[id] = e
		t.dirty = true
		if skip > 0 {
			t.log.Info("tail: compressed copy of a file already read, backfilling its rest only", "path", path, "from", skip)
		}
	}
	e.seen = time.Now()
	if e.done() || e.active || (e.size >= 0 && e.read >= e.size) {
		return e, 0, false, false
	}
	e.active, e.path = true, path
	return e, max(e.acked, e.read), true, false
}

// release ends a follower's claim on e; read is the end of the last line it
// handed out, partial says that line had no newline.
func (t *Tailer) release(e *entry, read int64, dead, partial bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.active = false
	if partial {
		e.partial = read
	}
	if read > e.read {
		e.read = read
	}
	if dead {
		e.dead = true
	}
	e.seen = time.Now()
	t.dirty = true
}
