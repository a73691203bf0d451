package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"strings"
)

// A batch's rollup is stored as one pending row in the batch's
// transaction and folded into the tables later with many others: the
// upserts of a batch touch several rows per line (every dimension at
// three levels), while a fold of a second's batches touches each value
// once. Folding deletes the pending rows it adds in the same
// transaction, and competing folders take disjoint rows (SKIP LOCKED),
// so each batch is added exactly once.

// deltaRow is one rollup row in the pending encoding (gob needs exported
// fields).
type deltaRow struct {
	Dim, Level, Class, IsBot uint8
	Bucket                   int64
	Host, Country, Value     string
	Status, Reg              uint16
	Hash, N, Bytes           uint64
	Rho                      uint8
}

type delta struct{ Traffic, Top, Visitors []deltaRow }

func (ru *rollup) encode() ([]byte, error) {
	var d delta
	for k, v := range ru.traffic {
		d.Traffic = append(d.Traffic, deltaRow{Level: k.level, Bucket: k.bucket, Host: k.host, Status: k.status, Country: k.country, IsBot: k.isBot, N: v.requests, Bytes: v.bytes})
	}
	for k, v := range ru.top {
		d.Top = append(d.Top, deltaRow{Dim: k.dim, Level: k.level, Bucket: k.bucket, Host: k.host, Class: k.statusClass, Country: k.country, IsBot: k.isBot, Hash: k.vhash, Value: v.value, N: v.n})
	}
	for k, v := range ru.visitors {
		d.Visitors = append(d.Visitors, deltaRow{Level: k.level, Bucket: k.bucket, Host: k.host, Country: k.country, IsBot: k.isBot, Reg: k.reg, Rho: v})
	}
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(&d)
	return b.Bytes(), err
}

// merge adds an encoded delta to ru.
func (ru *rollup) merge(b []byte) error {
	var d delta
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&d); err != nil {
		return err
	}
	for _, r := range d.Traffic {
		k := trafficKey{r.Level, r.Bucket, r.Host, r.Status, r.Country, r.IsBot}
		v := ru.traffic[k]
		v.requests += r.N
		v.bytes += r.Bytes
		ru.traffic[k] = v
	}
	for _, r := range d.Top {
		k := topKey{r.Dim, r.Level, r.Bucket, r.Host, r.Class, r.Country, r.IsBot, r.Hash}
		v := ru.top[k]
		v.value = r.Value
		v.n += r.N
		ru.top[k] = v
	}
	for _, r := range d.Visitors {
		k := visitorKey{r.Level, r.Bucket, r.Host, r.Country, r.IsBot, r.Reg}
		ru.visitors[k] = max(ru.visitors[k], r.Rho)
	}
	return nil
}

// addPending stores ru as a pending row in tx.
func (s *Store) addPending(ctx context.Context, tx *sql.Tx, ru *rollup) error {
	b, err := ru.encode()
	if err != nil {
		return fmt.Errorf("encode rollup: %w", err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO "+s.rollupTable(pendingSuffix)+" (delta) VALUES (?)", b)
	return err
}

// foldBatch is the most pending rows one fold takes.
const foldBatch = 500

// FoldRollups adds the pending batches to the rollup tables, foldBatch
// at a time, until none is left; it returns how many it folded. The
// clean consumers call it in the background, the dashboard and the
// report before they read.
func (s *Store) FoldRollups(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.foldOnce(ctx)
		total += n
		if err != nil || n < foldBatch {
			return total, err
		}
	}
}

func (s *Store) foldOnce(ctx context.Context) (int, error) {
	// One folder at a time: the visitors' sketches are read, merged and
	// written back.
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("fold rollups: %w", err)
	}
	defer conn.Close()
	// MySQL limits lock names to 64 characters.
	sum := sha256.Sum256([]byte(s.dbName + "." + s.cleanName))
	lock := "datastream_fold_" + hex.EncodeToString(sum[:16])
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lock).Scan(&got); err != nil {
		return 0, fmt.Errorf("fold rollups: %w", err)
	}
	if got.Int64 != 1 {
		return 0, nil // another process is folding: it adds these rows
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", lock) //nolint:errcheck
	n := 0
	err = inConnTx(ctx, conn, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT id, delta FROM "+s.rollupTable(pendingSuffix)+" ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED", foldBatch)
		if err != nil {
			return err
		}
		ru := newRollup()
		var ids []any
		for rows.Next() {
			var id int64
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return err
			}
			if err := ru.merge(b); err != nil {
				rows.Close()
				return fmt.Errorf("pending rollup %d: %w", id, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := s.upsertRollup(ctx, tx, ru); err != nil {
			return err
		}
		n = len(ids)
		_, err = tx.ExecContext(ctx, "DELETE FROM "+s.rollupTable(pendingSuffix)+" WHERE id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+")", ids...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fold rollups: %w", err)
	}
	return n, nil
}

// inConnTx is inTx on one connection.
func inConnTx(ctx context.Context, conn *sql.Conn, f func(tx *sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
