package enrich

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the database when its file is written or replaced (a
// rename onto it, as `make geoip` and most updaters do) and when hup
// receives, until ctx ends. done hears the result of every reload; a
// failed reload keeps the database in use.
func (m *MMDB) Watch(ctx context.Context, hup <-chan os.Signal, done func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", m.path, err)
	}
	// The directory, not the file: a file replaced by rename is a new
	// inode a watch on the old one would never see.
	if err := w.Add(filepath.Dir(m.path)); err != nil {
		w.Close()
		return fmt.Errorf("watch %s: %w", m.path, err)
	}
	go func() {
		defer w.Close()
		// Writers take a while: reload once the file has been quiet.
		var settle <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				done(m.Reload())
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == filepath.Clean(m.path) && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename) != 0 {
					settle = time.After(500 * time.Millisecond)
				}
			case <-settle:
				settle = nil
				done(m.Reload())
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				done(fmt.Errorf("watch %s: %w", m.path, err))
			}
		}
	}()
	return nil
}
