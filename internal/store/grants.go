package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/go-sql-driver/mysql"
)

// schemaReadable reports whether a user refused CREATE (error 1142) can
// still read datastream_schema: a consumer with only the grants it needs to
// write its rows (deploy/mysql/grants.sql) then runs against a schema that
// `datastream setup` brought up to date, and any migration it still needs
// fails with the refusal.
func schemaReadable(ctx context.Context, conn *sql.Conn, createErr error) bool {
	var me *mysql.MySQLError
	if !errors.As(createErr, &me) || me.Number != 1142 {
		return false
	}
	var one int
	err := conn.QueryRowContext(ctx, "SELECT 1 FROM datastream_schema LIMIT 1").Scan(&one)
	return err == nil || errors.Is(err, sql.ErrNoRows)
}
