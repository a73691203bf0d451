package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// A lock that holds across a Galera cluster. GET_LOCK is local to the node
// that grants it, so two components starting on two nodes would both get
// it and migrate at once. A row is not: of two nodes inserting the same
// key, one commits and the other fails certification (1213) or, once the
// row has replicated, finds the duplicate (1062). The row expires unless
// its holder refreshes it, so a holder killed mid-migration blocks the
// others for lockTTL at most.

const (
	lockTTL     = 60 * time.Second
	lockRefresh = lockTTL / 4
	lockWait    = 2 * time.Minute
)

const lockTable = "datastream_lock"

// lock takes the named lock, waiting up to lockWait while another process
// holds it; release gives it back.
func lock(ctx context.Context, db *sql.DB, name string) (release func(), err error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+lockTable+` (
		name       VARCHAR(255) NOT NULL PRIMARY KEY,
		owner      CHAR(32)     NOT NULL,
		expires_at DATETIME(6)  NOT NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`); err != nil {
		return nil, fmt.Errorf("create %s: %w", lockTable, err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	ttl := int(lockTTL / time.Second)
	deadline := time.Now().Add(lockWait)
	// One loop retries both a lock held elsewhere and a Retryable error
	// (a Galera conflict on the lock row), every 200 ms until lockWait.
	for {
		_, err := db.ExecContext(ctx, "DELETE FROM "+lockTable+" WHERE name = ? AND expires_at < UTC_TIMESTAMP(6)", name)
		if err == nil {
			_, err = db.ExecContext(ctx, "INSERT INTO "+lockTable+" (name, owner, expires_at) VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)", name, owner, ttl)
		}
		if err == nil {
			break
		}
		var me *mysql.MySQLError
		if !(errors.As(err, &me) && me.Number == 1062) && !Retryable(err) {
			return nil, fmt.Errorf("take lock %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s still held by another process after %s (a row of %s; it expires %s after its holder stops)", name, lockWait, lockTable, lockTTL)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(lockRefresh)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				_, _ = db.ExecContext(context.WithoutCancel(ctx), "UPDATE "+lockTable+" SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND WHERE name = ? AND owner = ?", ttl, name, owner)
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = retry(rctx, func() error {
			_, err := db.ExecContext(rctx, "DELETE FROM "+lockTable+" WHERE name = ? AND owner = ?", name, owner)
			return err
		})
	}, nil
}
