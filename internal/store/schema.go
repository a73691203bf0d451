// The schema: embedded migrations applied once per pair of tables, and
// what a user without CREATE needs to run against a schema set up for it.

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

// migrate applies the embedded migrations this pair of tables has not had
// yet (up to version upTo unless it is 0), under a lock that holds across
// a Galera cluster (see lock) so components starting together do not race.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	// A schema already up to date needs no lock: a consumer with only the
	// grants it needs to write rows (deploy/mysql/grants.sql) may not
	// create the lock table, and every start-up saves a write.
	if upTo == 0 && s.schemaCurrent(ctx) {
		return nil
	}
	release, err := lock(ctx, s.DB, "migrate")
	if err != nil {
		return err
	}
	defer release()
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to MySQL: %w", err)
	}
	defer conn.Close()

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS datastream_schema (
		table_set  VARCHAR(255) NOT NULL PRIMARY KEY,
		version    INT          NOT NULL,
		applied_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`); err != nil && !schemaReadable(ctx, conn, err) {
		return fmt.Errorf("create datastream_schema: %w", err)
	}
	set := s.tableSet()
	have, err := schemaVersion(ctx, conn, set)
	if err != nil {
		return err
	}
	list, err := migrationList()
	if err != nil {
		return err
	}
	pairs := []string{"{{raw}}", s.raw, "{{clean}}", s.clean, "{{dead}}", s.deadTable(), "{{sources}}", QuoteIdent(SourcesTable), "{{visitors}}", s.visitorsTable()}
	for _, t := range rollupSuffixes {
		pairs = append(pairs, t.placeholder, s.rollupTable(t.suffix))
	}
	names := strings.NewReplacer(pairs...)
	for _, m := range list {
		v, base := m.version, strings.TrimPrefix(m.path, "migrations/")
		if v <= have || (upTo > 0 && v > upTo) {
			continue
		}
		body, err := migrations.ReadFile(m.path)
		if err != nil {
			return err
		}
		text := names.Replace(string(body))
		for _, stmt := range splitStatements(text) {
			if _, err := conn.ExecContext(ctx, stmt); err != nil && !alreadyApplied(err) {
				return fmt.Errorf("migration %s: %w", base, err)
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO datastream_schema (table_set, version) VALUES (?, ?) ON DUPLICATE KEY UPDATE version = VALUES(version), applied_at = CURRENT_TIMESTAMP(6)", set, v); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
		s.log.Info("schema migrated", "tables", set, "version", v)
	}
	return nil
}

// alreadyApplied reports whether err says a statement of a migration
// found its work done: a migration cut short after some of its statements
// is run again whole, and MySQL 8 has neither ADD COLUMN IF NOT EXISTS
// nor DROP ... IF EXISTS. (So a migration never reads a column it drops.)
func alreadyApplied(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1060, // ER_DUP_FIELDNAME: the column was added
		1091: // ER_CANT_DROP_FIELD_OR_KEY: the column or index was dropped
		return true
	}
	return false
}

// splitStatements splits a migration on semicolons that end a line, after
// dropping comment lines.
func splitStatements(text string) []string {
	var out []string
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--") || t == "" {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(b.String()), ";"))
			b.Reset()
		}
	}
	if s := strings.TrimSpace(b.String()); s != "" {
		out = append(out, s)
	}
	return out
}
