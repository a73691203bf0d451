package tail

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"
)

const fpMax = 1024 // bytes of the first line that make up the fingerprint

// follower reads one open file. It is started and waited for by Run.
type follower struct {
	t    *Tailer
	f    *os.File
	path string
	dev  uint64
	ino  uint64
	gz   bool

	wake      chan struct{} // poked by Run on fsnotify events and rescans
	reachable atomic.Bool   // some configured path still names this file
	deleted   atomic.Bool   // the file has no name left at all
	retry     atomic.Bool   // .gz: not read yet, look at it again later
	gzKey     gzKey
	ent       atomic.Pointer[entry] // .gz: its entry once identified
	done      chan struct{}         // closed when run returns
}

// poke wakes the follower without blocking.
func (fl *follower) poke() {
	select {
	case fl.wake <- struct{}{}:
	default:
	}
}

type outcome int

const (
	stopped   outcome = iota // context cancelled
	finished                 // read to the end (no follow) or abandoned after draining
	truncated                // content replaced: start over with a new identity
)

func (fl *follower) run(ctx context.Context, out chan<- Line, exited chan<- struct{}) {
	defer func() {
		fl.f.Close()
		close(fl.done)
		select {
		case exited <- struct{}{}:
		default:
		}
	}()
	if fl.gz {
		fl.runGz(ctx, out)
		return
	}
	for {
		fp, ok := fl.fingerprint(ctx)
		if !ok {
			return
		}
		fi, err := fl.f.Stat()
		if err != nil {
			fl.t.log.Error("tail: stat", "path", fl.path, "err", err)
			return
		}
		e, start := fl.t.claim(fl.path, fl.dev, fl.ino, fingerprintHash(fp), fi.Size(), fl.lineEndAt)
		if start > 0 {
			fl.t.log.Info("tail: resuming", "path", fl.path, "file", e.id, "offset", start)
		} else {
			fl.t.log.Debug("tail: reading", "path", fl.path, "file", e.id, "ino", fl.ino, "gen", e.gen)
		}
		fpLine := fp
		if len(fp) < fpMax {
			fpLine = append(fp, '\n')
		}
		res, read, partial := fl.follow(ctx, out, e, start, fpLine)
		fl.t.release(e, read, res == truncated, partial)
		if res != truncated {
			return
		}
		fl.t.log.Info("tail: file truncated, starting over", "path", fl.path, "file", e.id, "at", read)
	}
}

// lineEndAt reports whether the byte before off is a newline, i.e. whether
// off can be a line start of the current content.
func (fl *follower) lineEndAt(off int64) bool {
	var b [1]byte
	n, _ := fl.f.ReadAt(b[:], off-1)
	return n == 1 && b[0] == '\n'
}

// fingerprint returns the first line (up to fpMax bytes). In follow mode it
// waits until the line is complete; ok is false when the context is done or
// the file went away (or, without follow, is empty) before that.
func (fl *follower) fingerprint(ctx context.Context) ([]byte, bool) {
	buf := make([]byte, fpMax)
	var gone time.Time
	for {
		n, err := fl.f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			fl.t.log.Error("tail: read", "path", fl.path, "err", err)
		}
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return buf[:i], true
		}
		if n == fpMax {
			return buf, true
		}
		if !fl.t.cfg.Follow {
			return buf[:n], n > 0
		}
		if fl.abandoned(&gone, time.Time{}) {
			return nil, false
		}
		if !fl.sleep(ctx) {
			return nil, false
		}
	}
}

// abandoned reports whether a file that no configured path names any more has
// been idle long enough to be closed. gone tracks when that was first noticed.
func (fl *follower) abandoned(gone *time.Time, lastData time.Time) bool {
	if fi, err := fl.f.Stat(); err == nil {
		if _, _, nlink := fileKey(fi); nlink == 0 {
			fl.deleted.Store(true)
		}
	}
	if fl.reachable.Load() && !fl.deleted.Load() {
		*gone = time.Time{}
		return false
	}
	now := time.Now()
	if gone.IsZero() {
		*gone = now
	}
	idleSince := *gone // drain for a while after noticing, whatever came before
	if lastData.After(idleSince) {
		idleSince = lastData
	}
	return now.Sub(idleSince) >= fl.t.cfg.DrainIdle
}

// sleep waits one poll interval or until poked; false when ctx is done.
func (fl *follower) sleep(ctx context.Context) bool {
	tm := time.NewTimer(fl.t.cfg.PollInterval)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-fl.wake:
		return true
	case <-tm.C:
		return true
	}
}

// replaced reports whether the content under the reader was truncated or
// rewritten: the file is shorter than what was read, its first line changed,
// or the last line end handed out is no longer preceded by a newline.
func (fl *follower) replaced(pos, lineEnd int64, fpLine []byte) bool {
	fi, err := fl.f.Stat()
	if err != nil {
		return false
	}
	if fi.Size() < pos {
		return true
	}
	head := make([]byte, len(fpLine))
	n, _ := fl.f.ReadAt(head, 0)
	if !bytes.Equal(head[:n], fpLine) {
		return true
	}
	return lineEnd > 0 && !fl.lineEndAt(lineEnd)
}

// follow reads lines of e from start and sends them until the file is done
// with (see outcome). read is the end of the last line sent.
func (fl *follower) follow(ctx context.Context, out chan<- Line, e *entry, start int64, fpLine []byte) (res outcome, read int64, partial bool) {
	r := newLineReader(start, fl.t.cfg.MaxLineBytes)
	read = start
	readAt := func(p []byte, off int64) (int, error) { return fl.f.ReadAt(p, off) }
	send := func(l rawLine) bool {
		line := Line{File: e.id, Path: fl.path, Offset: l.off, Data: l.data, Truncated: l.truncated, end: l.end}
		select {
		case out <- line:
			read = l.end
			return true
		case <-ctx.Done():
			return false
		}
	}
	follow := fl.t.cfg.Follow
	// Resuming after a final line that had no newline starts mid-line; the
	// newline check applies only once a line has been read here.
	startAtLineEnd := start == 0 || fl.lineEndAt(start)
	var gone time.Time
	lastData := time.Now()
	woke := false
	for {
		lineEnd := read
		if read == start && !startAtLineEnd {
			lineEnd = 0
		}
		if woke && fl.replaced(r.pos(), lineEnd, fpLine) {
			return truncated, read, false
		}
		woke = false
		n, err := r.fill(readAt)
		// Check again after reading: if the file was truncated and written
		// again just before the read, the bytes read are the middle of new
		// content and must not go out under this identity. (Truncation right
		// after the read also lands here; that data was only in the rotated
		// copy and is dropped with the rest of what had not been read.)
		if n > 0 && follow && fl.replaced(r.pos(), lineEnd, fpLine) {
			return truncated, read, false
		}
		for {
			l, ok := r.next()
			if !ok {
				break
			}
			if !send(l) {
				return stopped, read, false
			}
		}
		if n > 0 {
			lastData = time.Now()
			continue
		}
		if err != nil && err != io.EOF {
			fl.t.log.Error("tail: read", "path", fl.path, "err", err)
		}
		if ctx.Err() != nil {
			return stopped, read, false
		}
		if !follow || fl.abandoned(&gone, lastData) {
			if r.pending() {
				if follow {
					fl.t.log.Warn("tail: closing file with an unterminated last line", "path", fl.path, "file", e.id)
				}
				l, _ := r.final()
				if !send(l) {
					return stopped, read, false
				}
				partial = true
			}
			if follow {
				fl.t.log.Info("tail: closed rotated or deleted file", "path", fl.path, "file", e.id, "end", read)
			}
			return finished, read, partial
		}
		if !fl.sleep(ctx) {
			return stopped, read, false
		}
		woke = true
	}
}

// runGz reads a compressed file once, for backfill.
func (fl *follower) runGz(ctx context.Context, out chan<- Line) {
	zr, err := gzip.NewReader(fl.f)
	if err != nil {
		fl.t.log.Error("tail: gzip", "path", fl.path, "err", err)
		return
	}
	defer zr.Close()
	r := newLineReader(0, fl.t.cfg.MaxLineBytes)
	read := func(p []byte, _ int64) (int, error) { return zr.Read(p) }
	// Fill until the fingerprint is known.
	var err2 error
	for err2 == nil {
		win := r.buf[r.start:r.end]
		if bytes.IndexByte(win[:min(len(win), fpMax)], '\n') >= 0 || len(win) >= fpMax {
			break
		}
		_, err2 = r.fill(read)
	}
	if err2 != nil && err2 != io.EOF {
		fl.t.log.Error("tail: gzip", "path", fl.path, "err", err2)
		return
	}
	win := r.buf[r.start:r.end]
	fp := win[:min(len(win), fpMax)]
	if i := bytes.IndexByte(fp, '\n'); i >= 0 {
		fp = fp[:i]
	}
	if len(fp) == 0 && len(win) == 0 {
		return // empty
	}
	e, start, ok, later := fl.t.claimGz(fl.path, fl.dev, fl.ino, fingerprintHash(fp))
	if e != nil {
		fl.ent.Store(e)
	}
	if !ok {
		fl.retry.Store(later)
		return
	}
	var sent int64
	eof := false
	res := func() bool {
		for {
			for {
				l, ok := r.next()
				if !ok {
					break
				}
				if l.off < start {
					continue // delivered before the restart
				}
				select {
				case out <- Line{File: e.id, Path: fl.path, Offset: l.off, Data: l.data, Truncated: l.truncated, end: l.end}:
					sent = l.end
				case <-ctx.Done():
					return false
				}
			}
			if eof {
				if l, ok := r.final(); ok && l.off >= start {
					select {
					case out <- Line{File: e.id, Path: fl.path, Offset: l.off, Data: l.data, Truncated: l.truncated, end: l.end}:
						sent = l.end
					case <-ctx.Done():
						return false
					}
				}
				return true
			}
			_, err := r.fill(read)
			if errors.Is(err, io.EOF) {
				eof = true
			} else if err != nil {
				fl.t.log.Error("tail: gzip", "path", fl.path, "err", err)
				return false
			}
		}
	}()
	if res {
		fl.t.mu.Lock()
		e.size = r.pos()
		fl.t.dirty = true
		fl.t.mu.Unlock()
		fl.t.log.Info("tail: backfilled compressed file", "path", fl.path, "file", e.id, "bytes", r.pos())
	}
	fl.t.release(e, max(sent, start), false, false)
}
