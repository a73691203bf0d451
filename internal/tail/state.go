package tail

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// stateFile is the name of the checkpoint file inside Config.StateDir.
const stateFile = "tail-state.json"

// stateVersion is bumped when the JSON layout changes incompatibly.
const stateVersion = 1

// pruneAfter is how long a checkpoint of a file that is no longer seen is kept.
const pruneAfter = 7 * 24 * time.Hour

// entry is the checkpoint and in-memory bookkeeping of one file identity
// (one generation of content of one inode). Guarded by Tailer.mu.
type entry struct {
	id   FileID
	path string
	dev  uint64
	ino  uint64
	fp   [8]byte // hash of the first line (up to 1 KiB)
	gen  uint32  // bumped when the same inode starts over with the same first line
	gz   bool

	acked   int64           // end of the longest fully acknowledged prefix: the checkpoint
	pending map[int64]int64 // acknowledged lines beyond acked: offset -> end
	read    int64           // end of the last line handed out in this run (0 = none)
	partial int64           // end of a final line handed out without its newline (0 = none)
	size    int64           // .gz: decompressed size once read to the end, else -1
	dead    bool            // truncated or deleted: this content is gone for good
	active  bool            // a follower is reading it now
	seen    time.Time       // last time the file was known to exist
}

// done reports whether a .gz backfill has been read and acknowledged in full.
func (e *entry) done() bool { return e.gz && e.size >= 0 && e.acked >= e.size }

// jsonEntry is the on-disk form of an entry.
type jsonEntry struct {
	ID     string `json:"id"`
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	FP     string `json:"fingerprint"`
	Gen    uint32 `json:"gen,omitempty"`
	Gz     bool   `json:"gz,omitempty"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size,omitempty"` // .gz only: decompressed size when fully read
	// Partial is the end of a last line sent without its newline (reading
	// without follow): resuming there is legitimate although it is not
	// after a newline.
	Partial int64 `json:"partial,omitempty"`
	Done    bool  `json:"done,omitempty"` // .gz only: backfill complete
	Dead    bool  `json:"dead,omitempty"`
	Seen    int64 `json:"seen"` // unix seconds
}

type jsonState struct {
	Version int         `json:"version"`
	Files   []jsonEntry `json:"files"`
}

// fileID derives the identity of one generation of a file's content.
func fileID(gz bool, dev, ino uint64, fp [8]byte, gen uint32) FileID {
	var b [1 + 8 + 8 + 8 + 4]byte
	if gz {
		b[0] = 'z'
	} else {
		b[0] = 'f'
	}
	binary.BigEndian.PutUint64(b[1:], dev)
	binary.BigEndian.PutUint64(b[9:], ino)
	copy(b[17:], fp[:])
	binary.BigEndian.PutUint32(b[25:], gen)
	sum := sha256.Sum256(b[:])
	var id FileID
	copy(id[:], sum[:8])
	return id
}

// fingerprintHash hashes the fingerprint bytes (first line, up to 1 KiB).
func fingerprintHash(fp []byte) [8]byte {
	sum := sha256.Sum256(fp)
	var h [8]byte
	copy(h[:], sum[:8])
	return h
}

// loadState reads the checkpoint file; a missing file is an empty state.
func loadState(dir string) (map[FileID]*entry, error) {
	m := make(map[FileID]*entry)
	if dir == "" {
		return m, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tail: read checkpoints: %w", err)
	}
	var st jsonState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("tail: checkpoints %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("tail: checkpoints %s: unsupported version %d", filepath.Join(dir, stateFile), st.Version)
	}
	for _, j := range st.Files {
		e := &entry{path: j.Path, dev: j.Dev, ino: j.Ino, gen: j.Gen, gz: j.Gz,
			acked: j.Offset, size: -1, dead: j.Dead, seen: time.Now(), partial: j.Partial}
		// seen restarts at load: an entry is pruned only after a week of
		// running without meeting its file, never because we were down.
		fp, err := hex.DecodeString(j.FP)
		if err != nil || len(fp) != len(e.fp) {
			return nil, fmt.Errorf("tail: checkpoints: bad fingerprint %q", j.FP)
		}
		copy(e.fp[:], fp)
		if j.Gz && (j.Done || j.Size > 0) {
			e.size = j.Size
		}
		e.id = fileID(e.gz, e.dev, e.ino, e.fp, e.gen)
		if hex.EncodeToString(e.id[:]) != j.ID {
			return nil, fmt.Errorf("tail: checkpoints: id %s does not match its identity", j.ID)
		}
		m[e.id] = e
	}
	return m, nil
}

// encodeState renders the entries; the caller holds Tailer.mu.
func encodeState(m map[FileID]*entry, now time.Time) ([]byte, error) {
	st := jsonState{Version: stateVersion, Files: make([]jsonEntry, 0, len(m))}
	for id, e := range m {
		if e.active {
			e.seen = now
		}
		if !e.active && now.Sub(e.seen) > pruneAfter {
			delete(m, id)
			continue
		}
		j := jsonEntry{ID: hex.EncodeToString(e.id[:]), Path: e.path, Dev: e.dev, Ino: e.ino,
			FP: hex.EncodeToString(e.fp[:]), Gen: e.gen, Gz: e.gz, Offset: e.acked,
			Dead: e.dead, Seen: e.seen.Unix(), Partial: e.partial}
		if e.gz && e.size >= 0 {
			j.Size, j.Done = e.size, e.done()
		}
		st.Files = append(st.Files, j)
	}
	return json.MarshalIndent(st, "", " ")
}

// writeFileAtomic replaces name with data: temp file, fsync, rename, fsync dir.
func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every filesystem syncs directories
		d.Close()
	}
	return nil
}
