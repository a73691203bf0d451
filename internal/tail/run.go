package tail

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

const flushEvery = time.Second

type gzKey struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

// runner is the state of one Run: the followers it owns and its watcher.
type runner struct {
	t       *Tailer
	out     chan<- Line
	ctx     context.Context
	wg      sync.WaitGroup
	fls     []*follower
	gzSeen  map[gzKey]*follower // .gz files already handed to a follower
	touch   []*entry            // .gz entries seen again in this scan
	watched map[string]bool
	watcher *fsnotify.Watcher
	exited  chan struct{}
}

// Run follows the configured files and sends their lines to out, blocking
// while out is full (reading pauses: backpressure). It does not close out.
// Without Follow it returns nil once every file has been read to its end;
// otherwise it runs until ctx is cancelled and then returns ctx.Err(). All
// goroutines it starts have ended when it returns, and the checkpoints have
// been written.
func (t *Tailer) Run(ctx context.Context, out chan<- Line) error {
	if !t.running.TryLock() {
		return errAlreadyRunning
	}
	defer t.running.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	rn := &runner{t: t, out: out, ctx: ctx, gzSeen: map[gzKey]*follower{}, watched: map[string]bool{},
		exited: make(chan struct{}, 1)}
	var watchDone chan struct{}
	wake := make(chan struct{}, 1) // names changed: rescan
	data := make(chan struct{}, 1) // a file was written: wake the readers
	if t.cfg.Follow {
		if w, err := fsnotify.NewWatcher(); err != nil {
			t.log.Warn("tail: fsnotify unavailable, polling only", "err", err)
		} else {
			rn.watcher = w
			watchDone = make(chan struct{})
			go rn.watch(wake, data, watchDone)
		}
	}
	defer func() {
		cancel()
		rn.wg.Wait()
		if rn.watcher != nil {
			rn.watcher.Close()
			<-watchDone
		}
		if err := t.Flush(); err != nil {
			t.log.Error("tail: checkpoint", "err", err)
		}
	}()

	rn.scan()
	rn.adoptRotated()
	if !t.cfg.Follow {
		rn.wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		return nil
	}

	poll := time.NewTicker(t.cfg.PollInterval)
	defer poll.Stop()
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-flush.C:
			t.flushIfDirty()
			continue
		case <-data:
			for _, fl := range rn.fls {
				fl.poke()
			}
			continue
		case <-wake:
		case <-poll.C:
		case <-rn.exited:
		}
		rn.scan()
	}
}

var errAlreadyRunning = errorString("tail: Run called while already running")

type errorString string

func (e errorString) Error() string { return string(e) }

// watch forwards fsnotify activity as wake-ups: wake when names change
// (a rescan is due), data when a file was written (readers should look).
// Bursts coalesce. It ends when the watcher is closed.
func (rn *runner) watch(wake, data chan<- struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case ev, ok := <-rn.watcher.Events:
			if !ok {
				return
			}
			ch := data
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				ch = wake
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		case err, ok := <-rn.watcher.Errors:
			if !ok {
				return
			}
			rn.t.log.Warn("tail: fsnotify", "err", err)
		}
	}
}

// scan matches the patterns, starts followers for new files, tells existing
// ones whether they are still reachable, and wakes them all.
func (rn *runner) scan() {
	t := rn.t
	// Forget followers that ended.
	live := rn.fls[:0]
	for _, fl := range rn.fls {
		select {
		case <-fl.done:
			if fl.retry.Load() {
				delete(rn.gzSeen, fl.gzKey)
			}
		default:
			live = append(live, fl)
		}
	}
	clear(rn.fls[len(live):])
	rn.fls = live

	seen := make(map[*follower]bool, len(rn.fls))
	paths := make(map[string]bool)
	for _, pat := range t.cfg.Paths {
		rn.watchDir(pat)
		matches, err := filepath.Glob(pat)
		if err != nil {
			continue // validated in New
		}
		for _, p := range matches {
			if paths[p] {
				continue
			}
			paths[p] = true
			if fl := rn.consider(p); fl != nil {
				seen[fl] = true
			}
		}
	}
	if len(rn.touch) > 0 {
		now := time.Now()
		t.mu.Lock()
		for _, e := range rn.touch {
			e.seen = now
		}
		t.mu.Unlock()
		clear(rn.touch)
		rn.touch = rn.touch[:0]
	}
	for _, fl := range rn.fls {
		was := fl.reachable.Swap(seen[fl])
		if was != seen[fl] && !seen[fl] {
			t.log.Info("tail: file no longer at its path, draining", "path", fl.path)
		}
		fl.poke()
	}
}

// consider looks at one matching path and returns the follower reading it,
// starting one when needed (nil for a .gz already handled or a non-file).
func (rn *runner) consider(p string) *follower {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	dev, ino, _ := fileKey(fi)
	gz := strings.HasSuffix(p, ".gz")
	if gz {
		k := gzKey{dev, ino, fi.Size(), fi.ModTime()}
		if fl, ok := rn.gzSeen[k]; ok {
			if e := fl.ent.Load(); e != nil {
				rn.touch = append(rn.touch, e) // keep its checkpoint from being pruned
			}
			return nil
		}
	} else {
		for _, fl := range rn.fls {
			if fl.dev == dev && fl.ino == ino && !fl.gz && !fl.deleted.Load() {
				if fi2, err := fl.f.Stat(); err == nil {
					if _, _, nlink := fileKey(fi2); nlink == 0 {
						fl.deleted.Store(true) // same inode number, new file
						continue
					}
				}
				return fl
			}
		}
	}
	fl := rn.start(p, dev, ino, gz)
	if fl != nil && gz {
		fl.gzKey = gzKey{dev, ino, fi.Size(), fi.ModTime()}
		rn.gzSeen[fl.gzKey] = fl
	}
	return fl
}

// start opens p and starts a follower for it if it is still (dev, ino).
func (rn *runner) start(p string, dev, ino uint64, gz bool) *follower {
	f, err := os.Open(p)
	if err != nil {
		if !os.IsNotExist(err) {
			rn.t.log.Error("tail: open", "path", p, "err", err)
		}
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	if d, i, _ := fileKey(fi); d != dev || i != ino {
		f.Close() // replaced between stat and open: the next scan sees the new one
		return nil
	}
	fl := &follower{t: rn.t, f: f, path: p, dev: dev, ino: ino, gz: gz,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	fl.reachable.Store(true)
	rn.t.log.Debug("tail: following", "path", p)
	rn.fls = append(rn.fls, fl)
	rn.wg.Add(1)
	go func() {
		defer rn.wg.Done()
		fl.run(rn.ctx, rn.out, rn.exited)
	}()
	return fl
}

// watchDir asks fsnotify to watch the directory of a pattern, once it exists.
func (rn *runner) watchDir(pat string) {
	if rn.watcher == nil {
		return
	}
	dir := filepath.Dir(pat)
	if rn.watched[dir] || hasMeta(dir) {
		return
	}
	if err := rn.watcher.Add(dir); err == nil {
		rn.watched[dir] = true
	}
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// adoptRotated runs once at start: a checkpointed file that lost its name
// while we were down (renamed by rotation to a name no pattern matches) is
// looked up by inode in its directory and drained from its checkpoint.
func (rn *runner) adoptRotated() {
	t := rn.t
	type cand struct {
		path     string
		dev, ino uint64
		fp       [8]byte
		offset   int64
	}
	var cands []cand
	t.mu.Lock()
	for _, e := range t.entries {
		if e.gz || e.dead || e.active {
			continue
		}
		cands = append(cands, cand{e.path, e.dev, e.ino, e.fp, e.acked})
	}
	t.mu.Unlock()
	dirs := map[string][]os.DirEntry{}
	for _, c := range cands {
		if fi, err := os.Stat(c.path); err == nil {
			if d, i, _ := fileKey(fi); d == c.dev && i == c.ino {
				continue // still there; the patterns decide about it
			}
		}
		dir := filepath.Dir(c.path)
		ents, ok := dirs[dir]
		if !ok {
			ents, _ = os.ReadDir(dir)
			dirs[dir] = ents
		}
		for _, de := range ents {
			if !de.Type().IsRegular() || strings.HasSuffix(de.Name(), ".gz") {
				continue
			}
			p := filepath.Join(dir, de.Name())
			fi, err := os.Stat(p)
			if err != nil {
				continue
			}
			d, i, _ := fileKey(fi)
			if d != c.dev || i != c.ino || fi.Size() <= c.offset {
				continue
			}
			if fp, ok := firstLine(p); !ok || fingerprintHash(fp) != c.fp {
				continue
			}
			already := false
			for _, fl := range rn.fls {
				already = already || (fl.dev == d && fl.ino == i)
			}
			if already {
				break
			}
			if fl := rn.start(p, d, i, false); fl != nil {
				t.log.Info("tail: draining file rotated while stopped", "path", p, "was", c.path)
				fl.reachable.Store(false)
			}
			break
		}
	}
}

// firstLine reads the fingerprint bytes of a file.
func firstLine(p string) ([]byte, bool) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	buf := make([]byte, fpMax)
	n, err := io.ReadFull(f, buf)
	if err != nil && n == 0 {
		return nil, false
	}
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
		return buf[:i], true
	}
	return buf[:n], n == fpMax
}
