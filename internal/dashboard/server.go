package dashboard

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Config is how the dashboard serves.
type Config struct {
	Listen string // host:port
	// AuthToken, when set, is required as "Authorization: Bearer", the
	// token cookie, or ?token= once (which sets the cookie).
	AuthToken string
	// BasicUser and BasicPassword, when set, are accepted as HTTP basic
	// authentication.
	BasicUser, BasicPassword string
	// Poll is how often the data is checked for new rows (live updates).
	Poll   time.Duration
	Logger *slog.Logger
	Now    func() time.Time // tests
}

// CheckListen refuses to serve beyond this machine without
// authentication: the lines of a log name its visitors.
func (c Config) CheckListen() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if c.AuthToken != "" || c.BasicUser != "" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--listen %s is reachable from other machines: give --auth-token TOKEN (or set DASHBOARD_BASIC_AUTH=user:password), or listen on 127.0.0.1", c.Listen)
}

// Server is the dashboard's HTTP handler.
type Server struct {
	cfg  Config
	data Data
	log  *slog.Logger
	hub  *hub
	mux  *http.ServeMux
}

// New makes the server; Run serves it.
func New(cfg Config, d Data) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	s := &Server{cfg: cfg, data: d, log: cfg.Logger.With("component", "dashboard"), hub: newHub()}
	static, _ := fs.Sub(assets, "assets")
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.HandleFunc("GET /api/overview", s.api(func(ctx context.Context, v View) (any, error) {
		return overview(ctx, s.data, v, s.cfg.Now())
	}))
	mux.HandleFunc("GET /api/requests", s.api(func(ctx context.Context, v View) (any, error) {
		step, pts, err := s.data.Series(ctx, v.filter)
		return map[string]any{"step_seconds": step.Seconds(), "points": nonNil(pts)}, err
	}))
	mux.HandleFunc("GET /api/response-times", s.api(func(ctx context.Context, v View) (any, error) {
		return s.data.RespTimes(ctx, v.filter)
	}))
	mux.HandleFunc("GET /api/top/{panel}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := panelByName(r.PathValue("panel"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no panel " + r.PathValue("panel")})
			return
		}
		s.api(func(ctx context.Context, v View) (any, error) {
			es, err := p.Entries(ctx, s.data, v)
			return map[string]any{"panel": p, "entries": es}, err
		})(w, r)
	})
	mux.HandleFunc("GET /api/lines", s.api(func(ctx context.Context, v View) (any, error) {
		return s.data.LatestLines(ctx, v.filter, storeMatch(v), v.Limit)
	}))
	mux.HandleFunc("GET /api/summary", s.api(func(ctx context.Context, v View) (any, error) {
		return Summarize(ctx, s.data, v, s.cfg.Now())
	}))
	mux.HandleFunc("GET /api/panels", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, Panels) })
	mux.HandleFunc("GET /api/events", s.events)
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler: authentication and security headers,
// then the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if !s.authorized(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.AuthToken == "" && s.cfg.BasicUser == "" {
		return true
	}
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	if tok := s.cfg.AuthToken; tok != "" {
		if q := r.URL.Query().Get("token"); q != "" && eq(q, tok) {
			http.SetCookie(w, &http.Cookie{Name: "datastream_token", Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			return true
		}
		if c, err := r.Cookie("datastream_token"); err == nil && eq(c.Value, tok) {
			return true
		}
		if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && eq(a, tok) {
			return true
		}
	}
	if s.cfg.BasicUser != "" {
		if u, p, ok := r.BasicAuth(); ok && eq(u, s.cfg.BasicUser) && eq(p, s.cfg.BasicPassword) {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="datastream"`)
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "authentication required (?token=, a Bearer token or basic auth)"})
	return false
}

// api wraps a panel: it resolves the view and writes {view, data}, a 400
// for a bad parameter and a 500 (logged, not detailed) otherwise.
func (s *Server) api(f func(ctx context.Context, v View) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		v, err := Resolve(ctx, s.data, r.URL.Query(), s.cfg.Now())
		var out any
		if err == nil {
			out, err = f(ctx, v)
		}
		var br *BadRequest
		switch {
		case errors.As(err, &br):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": br.Error()})
		case err != nil:
			s.log.Error("api", "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "the database query failed; see the dashboard's log"})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"view": v, "data": out})
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Run serves until ctx ends, then shuts down within a few seconds.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.hub.poll(ctx, s.data, s.cfg.Poll, s.log)
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
	}
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
