package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/datastream/datastream/internal/clean"
)

// VisitGap closes a visit: a request 30 minutes or more after the
// visitor's previous one starts a new visit (GoAccess's and web
// analytics' usual definition).
const VisitGap = 30 * time.Minute

func (s *Store) visitorsTable() string { return QuoteIdent(s.cleanName + "_visitors") }

// visitID is a row's visit id; ok is false for a row without one (no
// time, or enrichment off).
type visitID struct {
	id [16]byte
	ok bool
}

// latestKey is the visit_key of a visitor's lock row, which holds its
// latest visit; the visitor's earlier visits are keyed by their first time.
const latestKey = math.MinInt64

// interval is a visit's first and last request, in ms.
type interval struct{ first, last int64 }

// visitor is what a batch reads of one visitor: its latest visit (nil for
// none yet) and those of its earlier visits near the batch's times.
type visitor struct {
	latest  *interval
	earlier []interval // by first
}

// rewrite renames a stored visit: rows of visit old, all within span, now
// belong to visit new.
type rewrite struct {
	old, new [16]byte
	span     interval
}

// assignVisits finds the visits of the rows' visitors and writes each
// row's visit id into ids, inside tx, from and into the visitors table.
//
// A visitor's visits are the runs of its request times less than VisitGap
// apart, a function of the set of its lines alone; a visit's id is a hash
// of the visitor and the visit's first time. The visitors table keeps
// every visit of every visitor (first, last). A line joins the visits
// within the gap on either side of it: after a visit's last line it
// stretches it (the id stays); before its first line, or between two
// visits, it gives the merged visit a new first time, hence a new id, and
// the rows already stored with the old id(s) are rewritten in the same
// transaction. So the ids do not depend on the order lines are processed
// in, and a line re-delivered, inside its visit already, changes nothing.
//
// The visitor's lock row (its latest visit) is locked in key order, so that
// competing consumers do not deadlock, from the first statement to the
// commit: consumers take turns per visitor. A batch whose lines all come
// at or after the start of their visitor's latest visit (live traffic)
// reads and writes only that row; earlier visits are read, near the
// batch's times only, for a visitor with older lines.
func (s *Store) assignVisits(ctx context.Context, tx *sql.Tx, rows []clean.Row, ids []visitID) error {
	byVisitor := map[[16]byte][]int{}
	for i := range rows {
		if rows[i].HasVisitor && rows[i].Time != nil {
			byVisitor[rows[i].Visitor] = append(byVisitor[rows[i].Visitor], i)
		}
	}
	if len(byVisitor) == 0 {
		return nil
	}
	keys := make([][16]byte, 0, len(byVisitor))
	for k, idx := range byVisitor {
		keys = append(keys, k)
		// In time order, so the order of lines within a batch never matters.
		slices.SortStableFunc(idx, func(a, b int) int { return rows[a].Time.Compare(*rows[b].Time) })
	}
	slices.SortFunc(keys, func(a, b [16]byte) int { return strings.Compare(string(a[:]), string(b[:])) })
	times := func(k [16]byte) (lo, hi int64) {
		idx := byVisitor[k]
		return rows[idx[0]].Time.UnixMilli(), rows[idx[len(idx)-1]].Time.UnixMilli()
	}

	vs, err := s.lockVisitors(ctx, tx, keys)
	if err != nil {
		return err
	}
	var older [][16]byte
	for _, k := range keys {
		if lo, _ := times(k); vs[k].latest != nil && lo < vs[k].latest.first {
			older = append(older, k)
		}
	}
	if err := s.readEarlier(ctx, tx, vs, older, times); err != nil {
		return err
	}

	var upd, del []any
	var rws []rewrite
	for _, k := range keys {
		v, idx := vs[k], byVisitor[k]
		ts := make([]int64, len(idx))
		for j, i := range idx {
			ts[j] = rows[i].Time.UnixMilli()
		}
		merged, renamed := v.merge(ts)
		for j, m := 0, 0; j < len(idx); j++ {
			for ts[j] > merged[m].last {
				m++
			}
			ids[idx[j]] = visitID{id: visitHash(k, merged[m].first), ok: true}
		}
		for _, o := range renamed {
			n, _ := slices.BinarySearchFunc(merged, o.first, func(m interval, t int64) int { return cmp.Compare(m.last, t) })
			rws = append(rws, rewrite{visitHash(k, o.first), visitHash(k, merged[n].first), o})
		}
		latest := merged[len(merged)-1]
		if v.latest == nil || *v.latest != latest {
			upd = append(upd, k[:], int64(latestKey), latest.first, latest.last)
		}
		for _, m := range merged[:len(merged)-1] {
			if !slices.Contains(v.earlier, m) {
				upd = append(upd, k[:], m.first, m.first, m.last)
			}
		}
		for _, e := range v.earlier {
			if !slices.ContainsFunc(merged[:len(merged)-1], func(m interval) bool { return m.first == e.first }) {
				del = append(del, k[:], e.first)
			}
		}
	}
	return s.writeVisits(ctx, tx, upd, del, rws)
}

// lockVisitors locks the lock row of each visitor of keys (sorted),
// creating the missing ones, and reads their latest visits.
func (s *Store) lockVisitors(ctx context.Context, tx *sql.Tx, keys [][16]byte) (map[[16]byte]*visitor, error) {
	args := make([]any, 0, len(keys)+1)
	args = append(args, int64(latestKey))
	for i := range keys {
		args = append(args, keys[i][:])
	}
	t := s.visitorsTable()
	values := strings.TrimSuffix(strings.Repeat("(?,?),", len(keys)), ",")
	ins := make([]any, 0, 2*len(keys))
	for i := range keys {
		ins = append(ins, keys[i][:], int64(latestKey))
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+t+" (visitor, visit_key) VALUES "+values+" ON DUPLICATE KEY UPDATE visitor = visitor", ins...); err != nil {
		return nil, fmt.Errorf("lock visitors: %w", err)
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")
	res, err := tx.QueryContext(ctx, "SELECT visitor, first_ms, last_ms FROM "+t+" WHERE visit_key = ? AND visitor IN ("+in+") FOR UPDATE", args...)
	if err != nil {
		return nil, fmt.Errorf("read visitors: %w", err)
	}
	vs := make(map[[16]byte]*visitor, len(keys))
	for res.Next() {
		var k []byte
		var first, last sql.NullInt64
		if err := res.Scan(&k, &first, &last); err != nil {
			res.Close()
			return nil, fmt.Errorf("read visitors: %w", err)
		}
		v := &visitor{}
		if first.Valid && last.Valid {
			v.latest = &interval{first.Int64, last.Int64}
		}
		vs[[16]byte(k)] = v
	}
	if err := errors.Join(res.Err(), res.Close()); err != nil {
		return nil, fmt.Errorf("read visitors: %w", err)
	}
	for _, k := range keys {
		if vs[k] == nil {
			return nil, fmt.Errorf("visitor %x: row missing after insert", k)
		}
	}
	return vs, nil
}

// readEarlier reads, for each visitor of keys, the earlier visits that a
// line of the batch (times lo to hi) can join: those starting within a gap
// of the times, and the last one starting before. It is a plain read: the
// rows of a visitor change only under its lock row, which this transaction
// holds, and its snapshot starts with this first non-locking read.
func (s *Store) readEarlier(ctx context.Context, tx *sql.Tx, vs map[[16]byte]*visitor, keys [][16]byte, times func([16]byte) (lo, hi int64)) error {
	if len(keys) == 0 {
		return nil
	}
	gap := VisitGap.Milliseconds()
	cols := "SELECT visitor, first_ms, last_ms FROM " + s.visitorsTable() + " WHERE visitor = ? AND "
	parts := make([]string, 0, 2*len(keys))
	args := make([]any, 0, 6*len(keys))
	for _, k := range keys {
		lo, hi := times(k)
		parts = append(parts, "("+cols+"visit_key >= ? AND visit_key < ?)", "("+cols+"visit_key > ? AND visit_key < ? ORDER BY visit_key DESC LIMIT 1)")
		args = append(args, k[:], lo-gap, hi+gap, k[:], int64(latestKey), lo-gap)
	}
	res, err := tx.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return fmt.Errorf("read earlier visits: %w", err)
	}
	for res.Next() {
		var k []byte
		var iv interval
		if err := res.Scan(&k, &iv.first, &iv.last); err != nil {
			res.Close()
			return fmt.Errorf("read earlier visits: %w", err)
		}
		v := vs[[16]byte(k)]
		v.earlier = append(v.earlier, iv)
	}
	if err := errors.Join(res.Err(), res.Close()); err != nil {
		return fmt.Errorf("read earlier visits: %w", err)
	}
	for _, k := range keys {
		slices.SortFunc(vs[k].earlier, func(a, b interval) int { return cmp.Compare(a.first, b.first) })
	}
	return nil
}

// merge puts the times ts (sorted, ms) into the visitor's visits and
// returns the visits they are then, by first time, and the visits already
// stored that lose their first time (so their id) by joining others or
// being stretched backwards.
func (v *visitor) merge(ts []int64) (merged, renamed []interval) {
	gap := VisitGap.Milliseconds()
	old := v.earlier
	if v.latest != nil {
		old = append(slices.Clip(old), *v.latest)
	}
	var sources []interval // stored visits in the visit being built
	flush := func() {
		for _, o := range sources {
			if o.first != merged[len(merged)-1].first {
				renamed = append(renamed, o)
			}
		}
		sources = sources[:0]
	}
	add := func(iv interval, stored bool) {
		if n := len(merged); n > 0 && iv.first < merged[n-1].last+gap {
			merged[n-1].last = max(merged[n-1].last, iv.last)
		} else {
			if n > 0 {
				flush()
			}
			merged = append(merged, iv)
		}
		if stored {
			sources = append(sources, iv)
		}
	}
	for i, j := 0, 0; i < len(old) || j < len(ts); {
		if j == len(ts) || (i < len(old) && old[i].first <= ts[j]) {
			add(old[i], true)
			i++
		} else {
			add(interval{ts[j], ts[j]}, false)
			j++
		}
	}
	flush()
	return merged, renamed
}

// writeVisits writes the visits that changed (upd: visitor, key, first,
// last), deletes those merged away (del: visitor, key) and renames the
// stored rows of visits whose id changed.
func (s *Store) writeVisits(ctx context.Context, tx *sql.Tx, upd, del []any, rws []rewrite) error {
	t := s.visitorsTable()
	if len(del) > 0 {
		where := strings.TrimSuffix(strings.Repeat("(visitor = ? AND visit_key = ?) OR ", len(del)/2), " OR ")
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE "+where, del...); err != nil {
			return fmt.Errorf("delete merged visits: %w", err)
		}
	}
	if len(upd) > 0 {
		values := strings.TrimSuffix(strings.Repeat("(?,?,?,?),", len(upd)/4), ",")
		_, err := tx.ExecContext(ctx, "INSERT INTO "+t+" (visitor, visit_key, first_ms, last_ms) VALUES "+values+
			" ON DUPLICATE KEY UPDATE first_ms = VALUES(first_ms), last_ms = VALUES(last_ms)", upd...)
		if err != nil {
			return fmt.Errorf("write visitors: %w", err)
		}
	}
	if len(rws) == 0 {
		return nil
	}
	// Bounded by ts (idx_ts) to each old visit's span; ts is stored to the
	// ms, rounded, hence the margin.
	var set, where strings.Builder
	args := make([]any, 0, 5*len(rws))
	for i, r := range rws {
		set.WriteString(" WHEN ? THEN ?")
		args = append(args, r.old[:], r.new[:])
		if i > 0 {
			where.WriteString(" OR ")
		}
		where.WriteString("(ts BETWEEN ? AND ? AND visit_id = ?)")
	}
	for _, r := range rws {
		args = append(args, time.UnixMilli(r.span.first-1).UTC(), time.UnixMilli(r.span.last+1).UTC(), r.old[:])
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+s.clean+" SET visit_id = CASE visit_id"+set.String()+" END WHERE "+where.String(), args...); err != nil {
		return fmt.Errorf("rewrite merged visits: %w", err)
	}
	return nil
}

// visitHash is the id of the visitor's visit starting at first (ms).
func visitHash(visitor [16]byte, first int64) [16]byte {
	var b [24]byte
	copy(b[:], visitor[:])
	binary.BigEndian.PutUint64(b[16:], uint64(first))
	sum := sha256.Sum256(b[:])
	return [16]byte(sum[:16])
}
