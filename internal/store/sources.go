package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/datastream/datastream/internal/clean"
	"github.com/datastream/datastream/internal/record"
)

// SourcesTable holds where lines come from; rows point into it by
// source_id (migration 004). Every table set of a database shares it:
// a host and a path name the same file whichever tables its lines go to.
const SourcesTable = "log_source"

// source is a producer's host and a file's path, as stored, or a file
// identity whose host and path are announced separately.
type source struct {
	host, path string
	file       [8]byte
	byFile     bool
}

func newSource(host, path string) source {
	return source{host: clean.TextString(host, 255), path: clean.TextString(path, 1024)}
}

// sourceOf is the source a line names: its host and path, or, for a
// message that names none (record.Line.SourceInID), the file of its id.
func sourceOf(host, path string, inID bool, id record.ID) source {
	if inID {
		return source{file: id.File(), byFile: true}
	}
	return newSource(host, path)
}

// key is the source's unique key in the table: SHA-256 of host, NUL, path
// (what migration 004 computes for rows written before it), or for a file
// identity SHA-256 of the byte 0xFF then the identity. 0xFF never starts
// valid UTF-8, which every stored host is, so the two kinds cannot meet.
func (s source) key() []byte {
	h := sha256.New()
	if s.byFile {
		h.Write([]byte{0xFF})
		h.Write(s.file[:])
		return h.Sum(nil)
	}
	h.Write([]byte(s.host))
	h.Write([]byte{0})
	h.Write([]byte(s.path))
	return h.Sum(nil)
}

// sourceIDs caches the ids of the sources seen: a process follows a few
// files, so after the first batch of a file no query is needed.
type sourceIDs struct {
	ids syncMap[source, uint32]
	// hosts are the announced hosts of sources by id, once known.
	hosts syncMap[uint32, string]
}

// syncMap is a map behind a mutex, for caches that every writer reads.
type syncMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (c *syncMap[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *syncMap[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]V{}
	}
	c.m[k] = v
}

// announcedHosts fills the source host of rows whose message named only
// its file (the host rides in the source announcement, which any consumer
// may have stored): rollups count a line for its host. A source not
// announced yet leaves the host empty, and is asked again next batch.
func (s *Store) announcedHosts(ctx context.Context, rows []clean.Row, ids []uint32) error {
	var host string
	var hostOf uint32 // 0: none yet (source ids start at 1)
	for i := range rows {
		if !rows[i].SourceInID || rows[i].SourceHost != "" {
			continue
		}
		// Rows of a batch mostly share a source: look it up once a run.
		if ids[i] != hostOf {
			var err error
			if host, err = s.announcedHost(ctx, ids[i]); err != nil {
				return err
			}
			hostOf = ids[i]
		}
		rows[i].SourceHost = host
	}
	return nil
}

func (s *Store) announcedHost(ctx context.Context, id uint32) (string, error) {
	if host, ok := s.sources.hosts.get(id); ok {
		return host, nil
	}
	var host string
	err := s.DB.QueryRowContext(ctx, "SELECT host FROM "+QuoteIdent(SourcesTable)+" WHERE id = ?", id).Scan(&host)
	if err != nil {
		return "", fmt.Errorf("read the host of source %d: %w", id, err)
	}
	if host != "" {
		s.sources.hosts.put(id, host)
	}
	return host, nil
}

// resolveSources returns the ids of n rows' sources (at(i) gives row i's),
// adding the sources the table does not have yet. Rows of a batch mostly
// share one source, so each row costs a comparison.
func (s *Store) resolveSources(ctx context.Context, n int, at func(i int) source) ([]uint32, error) {
	out := make([]uint32, n)
	var last source
	var lastID uint32
	for i := range n {
		src := at(i)
		if i == 0 || src != last {
			id, err := s.sourceID(ctx, src)
			if err != nil {
				return nil, err
			}
			last, lastID = src, id
		}
		out[i] = lastID
	}
	return out, nil
}

func (s *Store) sourceID(ctx context.Context, src source) (uint32, error) {
	if id, ok := s.sources.ids.get(src); ok {
		return id, nil
	}
	// LAST_INSERT_ID(id) makes an existing row's id the statement's
	// insert id, so one statement serves both cases and concurrent
	// consumers agree on the id. A file's row starts with empty host and
	// path when its lines come before its announcement. Two Galera nodes
	// adding the same source at once: one of them gets a certification
	// conflict, and its retry finds the row.
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
		return 0, fmt.Errorf("register source %s: %w", src, err)
	}
	id := uint32(v)
	s.sources.ids.put(src, id)
	return id, nil
}

func (s source) String() string {
	if s.byFile {
		return fmt.Sprintf("file %x", s.file[:])
	}
	return s.host + ":" + s.path
}

// RecordSources stores what producers announced: the host and path of each
// file. The file's row may already exist, made by its lines (empty host
// and path); the first announcement stored fills it and later ones leave
// it (a file renamed by rotation keeps the path it was announced with), so
// the outcome does not depend on which consumer stores what first.
func (s *Store) RecordSources(ctx context.Context, srcs []record.Source) error {
	for _, a := range srcs {
		src := source{file: a.File, byFile: true}
		named := newSource(a.Host, a.Path)
		// MySQL and MariaDB assign left to right: host is tested on the
		// old path before path is set.
		_, err := s.DB.ExecContext(ctx, "INSERT INTO "+QuoteIdent(SourcesTable)+" (source_key, host, path) VALUES (?, ?, ?) "+
			"ON DUPLICATE KEY UPDATE host = IF(path = '', ?, host), path = IF(path = '', ?, path)",
			src.key(), named.host, named.path, named.host, named.path)
		if err != nil {
			return fmt.Errorf("record the source of file %x (%s:%s): %w", a.File[:], named.host, named.path, err)
		}
	}
	return nil
}
