package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

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

// visitState is a visitor's latest visit as the visitors table holds it.
type visitState struct {
	no          uint32 // 0: no visit yet
	first, last int64  // ms
	changed     bool
}

// assignVisits numbers the visits of the rows' visitors and writes each
// row's visit id into ids, inside tx, from and into the visitors table.
//
// The id of a visit is a hash of the visitor and the visit's number (its
// 1st, 2nd... visit), not of any one line: whichever of a visit's lines a
// consumer happens to see first, the visit gets the same id. The visitor's
// row is locked (in key order, so that competing consumers do not
// deadlock) from the first statement to the commit, so consumers take
// turns per visitor and a restarted consumer carries on from the table.
// A line is placed against the visitor's latest visit:
//   - no visit yet, or 30 minutes or more after its last line: the next
//     visit;
//   - less than 30 minutes before its first line or after its last: that
//     visit, which it stretches;
//   - 30 minutes or more before its first line (a line late by more than
//     a visit's gap): the visit before, without changing the table.
//
// A row already written is never changed. A line re-delivered lands in
// the same visit it did the first time and changes nothing.
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
	for k := range byVisitor {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [16]byte) int { return strings.Compare(string(a[:]), string(b[:])) })

	// Lock every visitor's row, creating the missing ones (visit 0).
	group := "(?,0,0,0)"
	args := make([]any, len(keys))
	for i := range keys {
		args[i] = keys[i][:]
	}
	values := strings.TrimSuffix(strings.Repeat(group+",", len(keys)), ",")
	t := s.visitorsTable()
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+t+" (visitor, visit_no, first_ms, last_ms) VALUES "+values+" ON DUPLICATE KEY UPDATE visitor = visitor", args...); err != nil {
		return fmt.Errorf("lock visitors: %w", err)
	}
	state := make(map[[16]byte]*visitState, len(keys))
	in := strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")
	res, err := tx.QueryContext(ctx, "SELECT visitor, visit_no, first_ms, last_ms FROM "+t+" WHERE visitor IN ("+in+") FOR UPDATE", args...)
	if err != nil {
		return fmt.Errorf("read visitors: %w", err)
	}
	for res.Next() {
		var k []byte
		st := &visitState{}
		if err := res.Scan(&k, &st.no, &st.first, &st.last); err != nil {
			res.Close()
			return fmt.Errorf("read visitors: %w", err)
		}
		state[[16]byte(k)] = st
	}
	if err := errors.Join(res.Err(), res.Close()); err != nil {
		return fmt.Errorf("read visitors: %w", err)
	}

	var upd []any
	for _, k := range keys {
		st := state[k]
		if st == nil {
			return fmt.Errorf("visitor %x: row missing after insert", k)
		}
		idx := byVisitor[k]
		// In time order, so the order of lines within a batch never matters.
		slices.SortStableFunc(idx, func(a, b int) int { return rows[a].Time.Compare(*rows[b].Time) })
		for _, i := range idx {
			ids[i] = visitID{id: visitHash(k, st.place(rows[i].Time.UnixMilli())), ok: true}
		}
		if st.changed {
			upd = append(upd, k[:], st.no, st.first, st.last)
		}
	}
	if len(upd) == 0 {
		return nil
	}
	values = strings.TrimSuffix(strings.Repeat("(?,?,?,?),", len(upd)/4), ",")
	_, err = tx.ExecContext(ctx, "INSERT INTO "+t+" (visitor, visit_no, first_ms, last_ms) VALUES "+values+
		" ON DUPLICATE KEY UPDATE visit_no = VALUES(visit_no), first_ms = VALUES(first_ms), last_ms = VALUES(last_ms)", upd...)
	if err != nil {
		return fmt.Errorf("write visitors: %w", err)
	}
	return nil
}

// place puts a line of time t (ms) into a visit and returns its number.
func (st *visitState) place(t int64) uint32 {
	gap := VisitGap.Milliseconds()
	switch {
	case st.no == 0 || t >= st.last+gap:
		st.no, st.first, st.last, st.changed = st.no+1, t, t, true
	case t > st.first-gap:
		if t < st.first {
			st.first, st.changed = t, true
		}
		if t > st.last {
			st.last, st.changed = t, true
		}
	default:
		return st.no - 1
	}
	return st.no
}

// visitHash is the id of the visitor's visit number no.
func visitHash(visitor [16]byte, no uint32) [16]byte {
	var b [20]byte
	copy(b[:], visitor[:])
	binary.BigEndian.PutUint32(b[16:], no)
	sum := sha256.Sum256(b[:])
	return [16]byte(sum[:16])
}

// retryDeadlock runs f again when the database chose it as a deadlock's
// victim: competing consumers lock visitors in key order, but InnoDB's gap
// locks can still, rarely, cross.
func retryDeadlock(f func() error) error {
	var err error
	for range 5 {
		err = f()
		var me *mysql.MySQLError
		if !errors.As(err, &me) || (me.Number != 1213 && me.Number != 1205) {
			return err
		}
	}
	return err
}
