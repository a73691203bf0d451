// Package logging sets up the process's own log (text or JSON, a level) and
// keeps credentials out of it: every attribute and message is scrubbed of
// the passwords the process was given, including where a library quotes a
// URL or DSN inside its error text.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"
)

// Mask replaces a secret wherever it appears.
const Mask = "xxxxx"

// Redactor removes known secrets from text.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// Add registers secrets (empty ones and very short ones, which would mask
// ordinary words, are ignored) in every form they are likely quoted in.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) < 3 {
			continue
		}
		for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s), url.UserPassword("u", s).String()[2:]} {
			if !contains(r.secrets, v) {
				r.secrets = append(r.secrets, v)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AddURL registers the password of an AMQP (or any) URL; several URLs may
// be given separated by commas.
func (r *Redactor) AddURL(raw string) {
	for _, one := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(one))
		if err != nil || u.User == nil {
			// Unparseable: mask what sits between "://user:" and "@".
			r.Add(passwordBetween(one))
			continue
		}
		if p, ok := u.User.Password(); ok {
			r.Add(p)
		}
	}
}

// AddDSN registers the password of a go-sql-driver DSN.
func (r *Redactor) AddDSN(dsn string) {
	if cfg, err := mysql.ParseDSN(dsn); err == nil {
		r.Add(cfg.Passwd)
		return
	}
	r.Add(passwordBetween(dsn))
}

// passwordBetween guesses the password of "scheme://user:pass@host" or
// "user:pass@tcp(host)" that no parser accepted.
func passwordBetween(s string) string {
	s = s[strings.Index(s, "://")+1:]
	s = strings.TrimLeft(s, "/")
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return ""
	}
	cred := s[:at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return cred[i+1:]
	}
	return ""
}

// String returns s with every secret masked.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Mask)
		}
	}
	return s
}

// replaceAttr scrubs one attribute; errors and other values are turned into
// their text first so nothing reaches the handler unscrubbed.
func (r *Redactor) replaceAttr(_ []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.String(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, r.String(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, r.String(x.String()))
		case []byte:
			return slog.String(a.Key, r.String(string(x)))
		default:
			return slog.String(a.Key, r.String(fmt.Sprint(x)))
		}
	}
	return a
}

// Options are the log's flags.
type Options struct {
	Level string // debug, info, warn or error
	JSON  bool   // one JSON object a line instead of key=value text
}

// New returns a logger writing to w that scrubs r's secrets.
func New(w io.Writer, o Options, r *Redactor) (*slog.Logger, error) {
	var level slog.Level
	if o.Level == "" {
		o.Level = "info"
	}
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: r.replaceAttr}
	if o.JSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
