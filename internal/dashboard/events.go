package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/datastream/datastream/internal/store"
)

// hub polls the rollups' version and tells every open page when it
// changes; one poll serves every page.
type hub struct {
	mu      sync.Mutex
	version string
	subs    map[chan string]struct{}
}

func newHub() *hub { return &hub{subs: map[chan string]struct{}{}} }

func (h *hub) poll(ctx context.Context, d Data, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// Batches the consumers committed but have not folded yet.
		_, err := d.FoldRollups(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("fold rollups", "err", err)
		}
		v, err := d.RollupVersion(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("poll for new rows", "err", err)
		}
		if err == nil {
			h.publish(v)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *hub) publish(v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v == h.version {
		return
	}
	h.version = v
	for c := range h.subs {
		select {
		case c <- v:
		default: // the page is behind; it gets the next one
		}
	}
}

func (h *hub) subscribe() (chan string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(chan string, 1)
	h.subs[c] = struct{}{}
	return c, h.version
}

func (h *hub) unsubscribe(c chan string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, c)
}

// events streams "change" events (Server-Sent Events): one at once, then
// one whenever new rows are counted, and a comment every 15 s so proxies
// keep the stream open. The browser reconnects by itself, for example
// after the dashboard restarts, and then refreshes on the first event.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c, v := s.hub.subscribe()
	defer s.hub.unsubscribe(c)
	send := func(v string) bool {
		_, err := fmt.Fprintf(w, "event: change\ndata: %q\n\n", v)
		fl.Flush()
		return err == nil
	}
	if !send(v) {
		return
	}
	beat := time.NewTicker(15 * time.Second)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case v := <-c:
			if !send(v) {
				return
			}
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": still here\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

func storeMatch(v View) store.Match { return store.Match{Field: v.Field, Value: v.Value} }
