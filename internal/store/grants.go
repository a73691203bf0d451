package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

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
	list, err := migrationList()
	if err != nil || len(list) == 0 {
		return false
	}
	have, err := schemaVersion(ctx, s.DB, s.tableSet())
	return err == nil && have >= list[len(list)-1].version
}

// migration is an embedded migration file and its version.
type migration struct {
	version int
	path    string
}

// migrationList is the embedded migrations in version order.
var migrationList = sync.OnceValues(func() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(f, "migrations/"), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", f)
		}
		out = append(out, migration{v, f})
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return out, nil
})

// tableSet names this pair of tables in datastream_schema.
func (s *Store) tableSet() string { return s.rawName + "|" + s.cleanName }

// schemaVersion is the version datastream_schema records for set, 0 when
// it has none.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, set string) (int, error) {
	var have int
	err := q.QueryRowContext(ctx, "SELECT version FROM datastream_schema WHERE table_set = ?", set).Scan(&have)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return have, nil
}
