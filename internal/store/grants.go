package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"strconv"
	"strings"

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

// schemaCurrent reports whether datastream_schema says this pair of tables
// has had every embedded migration. Any error reads as "not current": the
// caller then migrates under the lock, which reports it.
func (s *Store) schemaCurrent(ctx context.Context) bool {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return false
	}
	latest := 0
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(f, "migrations/"), "_", 2)[0])
		if err != nil {
			return false
		}
		latest = max(latest, v)
	}
	var have int
	err = s.DB.QueryRowContext(ctx, "SELECT version FROM datastream_schema WHERE table_set = ?", s.rawName+"|"+s.cleanName).Scan(&have)
	return err == nil && have >= latest
}
