package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/datastream/datastream/internal/clean"
)

// SourcesTable holds where lines come from; rows point into it by
// source_id (migration 004). Every table set of a database shares it:
// a host and a path name the same file whichever tables its lines go to.
const SourcesTable = "log_source"

// source is a producer's host and a file's path, as stored.
type source struct{ host, path string }

func newSource(host, path string) source {
	return source{clean.TextString(host, 255), clean.TextString(path, 1024)}
}

// key is the source's unique key in the table: SHA-256 of host, NUL, path
// (what migration 004 computes for rows written before it).
func (s source) key() []byte {
	h := sha256.New()
	h.Write([]byte(s.host))
	h.Write([]byte{0})
	h.Write([]byte(s.path))
	return h.Sum(nil)
}

// sourceIDs caches the ids of the sources seen: a process follows a few
// files, so after the first batch of a file no query is needed.
type sourceIDs struct {
	mu  sync.Mutex
	ids map[source]uint32
}

// resolveSources returns the ids of n rows' sources (at(i) gives row i's
// host and path), adding the sources the table does not have yet. Rows of
// a batch mostly share one source, so each row costs a comparison.
func (s *Store) resolveSources(ctx context.Context, n int, at func(i int) (host, path string)) ([]uint32, error) {
	out := make([]uint32, n)
	var lastHost, lastPath string
	var lastID uint32
	for i := range n {
		host, path := at(i)
		if i == 0 || host != lastHost || path != lastPath {
			id, err := s.sourceID(ctx, newSource(host, path))
			if err != nil {
				return nil, err
			}
			lastHost, lastPath, lastID = host, path, id
		}
		out[i] = lastID
	}
	return out, nil
}

func (s *Store) sourceID(ctx context.Context, src source) (uint32, error) {
	s.sources.mu.Lock()
	id, ok := s.sources.ids[src]
	s.sources.mu.Unlock()
	if ok {
		return id, nil
	}
	// LAST_INSERT_ID(id) makes an existing row's id the statement's
	// insert id, so one statement serves both cases and concurrent
	// consumers agree on the id.
	// Two Galera nodes adding the same source at once: one of them gets a
	// certification conflict, and its retry finds the row.
	var v int64
	err := retry(ctx, func() error {
		res, err := s.DB.ExecContext(ctx, "INSERT INTO "+QuoteIdent(SourcesTable)+" (source_key, host, path) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)",
			src.key(), src.host, src.path)
		if err == nil {
			v, err = res.LastInsertId()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("register source %s:%s: %w", src.host, src.path, err)
	}
	id = uint32(v)
	s.sources.mu.Lock()
	if s.sources.ids == nil {
		s.sources.ids = map[source]uint32{}
	}
	s.sources.ids[src] = id
	s.sources.mu.Unlock()
	return id, nil
}
