// Package store writes Datastream's tables in MySQL 8 or MariaDB 10.11:
// schema migrations, and idempotent multi-row inserts, one transaction per
// batch. All SQL is parameterised; table names are quoted identifiers.
package store

import (
	"context"
	"crypto/tls"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/datastream/datastream/internal/record"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config says where the tables live.
type Config struct {
	DSN        string
	TLS        *tls.Config // nil: as the DSN says
	RawTable   string
	CleanTable string
	MaxConns   int
	// LoadData writes large batches with LOAD DATA LOCAL INFILE from memory
	// instead of multi-row INSERT (the server must allow local_infile).
	LoadData bool
	// NoRollups leaves the dashboard's rollups out of clean writes (for
	// measuring what they cost; `datastream rollup --rebuild` fills them).
	NoRollups bool
	Logger    *slog.Logger
}

// Store is an open database with the schema applied.
type Store struct {
	DB        *sql.DB
	raw       string // quoted
	clean     string // quoted
	rawName   string
	cleanName string
	dbName    string
	// maxStmt bounds the size of one INSERT so it fits max_allowed_packet.
	maxStmt   int
	loadData  atomic.Bool
	noRollups bool
	log       *slog.Logger
	// The statements of each table, built once.
	rawIns, cleanIns inserter

	loads, loadFallbacks atomic.Int64
	folder               folder
	sources              sourceIDs
}

// QuoteIdent quotes a MySQL identifier, so a user may name a table
// "raw-log" as the original design did.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// ParseDSN reads a DSN and sets what Datastream relies on: UTC times,
// client-side interpolation (one round trip per statement, no 65,535
// placeholder limit) and a registered TLS config when one is given.
func ParseDSN(dsn string, tlsCfg *tls.Config) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad MySQL DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true
	// Affected rows must count only inserted rows: the rollups count what
	// a batch really added (see rollup_write.go).
	cfg.ClientFoundRows = false
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	if tlsCfg != nil {
		cfg.TLS = tlsCfg
	}
	if cfg.DBName == "" {
		cfg.DBName = "datastream"
	}
	return cfg, nil
}

// Open connects, creates the database if it is missing and applies the
// schema.
func Open(ctx context.Context, c Config) (*Store, error) { return open(ctx, c, 0) }

// open is Open with the schema brought only up to version upTo when it is
// not 0 (tests of migrations).
func open(ctx context.Context, c Config, upTo int) (*Store, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	cfg, err := ParseDSN(c.DSN, c.TLS)
	if err != nil {
		return nil, err
	}
	if err := createDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	conn, err := Connector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	if c.MaxConns <= 0 {
		c.MaxConns = 8
	}
	db.SetMaxOpenConns(c.MaxConns)
	db.SetMaxIdleConns(c.MaxConns)
	db.SetConnMaxLifetime(30 * time.Minute)
	s := &Store{
		DB: db, raw: QuoteIdent(c.RawTable), clean: QuoteIdent(c.CleanTable),
		rawName: c.RawTable, cleanName: c.CleanTable, dbName: cfg.DBName,
		log: c.Logger.With("component", "store"),
	}
	s.loadData.Store(c.LoadData)
	s.noRollups = c.NoRollups
	s.rawIns = newInserter(s.raw, rawCols)
	s.cleanIns = newInserter(s.clean, cleanCols)
	if err := s.migrate(ctx, upTo); err != nil {
		db.Close()
		return nil, err
	}
	var maxPacket int64
	if err := db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		db.Close()
		return nil, fmt.Errorf("read max_allowed_packet: %w", err)
	}
	// Leave room for escaping (binary data can double in size) and the
	// statement text.
	s.maxStmt = int(min(maxPacket/2-64*1024, 8<<20))
	if s.maxStmt < 64*1024 {
		s.maxStmt = 64 * 1024
	}
	return s, nil
}

// Close folds what this process left pending (briefly: a fold it cannot
// finish is done by the next folder) and closes the pool.
func (s *Store) Close() error {
	s.stopFolding()
	return s.DB.Close()
}

// Database is the name of the database in use.
func (s *Store) Database() string { return s.dbName }

func createDatabase(ctx context.Context, cfg *mysql.Config) error {
	admin := cfg.Clone()
	admin.DBName = ""
	conn, err := Connector(admin)
	if err != nil {
		return fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+QuoteIdent(cfg.DBName)+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
	if err != nil {
		var me *mysql.MySQLError
		// A user without CREATE privilege on an existing database is fine.
		if errors.As(err, &me) && (me.Number == 1044 || me.Number == 1227) {
			return nil
		}
		return fmt.Errorf("create database %q at %s: %w", cfg.DBName, cfg.Addr, err)
	}
	return nil
}

// Count returns the number of rows of the raw and clean tables.
func (s *Store) Count(ctx context.Context) (raw, clean int64, err error) {
	if err = s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.raw).Scan(&raw); err != nil {
		return 0, 0, fmt.Errorf("count %s: %w", s.rawName, err)
	}
	if err = s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.clean).Scan(&clean); err != nil {
		return 0, 0, fmt.Errorf("count %s: %w", s.cleanName, err)
	}
	return raw, clean, nil
}

// CountFiles returns the rows of the raw and clean tables whose lines come
// from the given files (the first half of their ids): a primary-key range
// per file, so it is cheap however big the tables are.
func (s *Store) CountFiles(ctx context.Context, files [][8]byte) (raw, clean int64, err error) {
	for _, f := range files {
		lo := record.NewID(f, 0)
		hi := record.NewID(f, -1) // all offset bits set
		for _, t := range []struct {
			table string
			n     *int64
		}{{s.raw, &raw}, {s.clean, &clean}} {
			var n int64
			if err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t.table+" WHERE id BETWEEN ? AND ?", lo[:], hi[:]).Scan(&n); err != nil {
				return 0, 0, fmt.Errorf("count rows of file %x: %w", f, err)
			}
			*t.n += n
		}
	}
	return raw, clean, nil
}

// DropTables removes this store's tables (tests and benchmarks).
func (s *Store) DropTables(ctx context.Context) error {
	for _, t := range append([]string{s.raw, s.clean, s.deadTable(), s.visitorsTable()}, s.rollupTables()...) {
		if _, err := s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return err
		}
	}
	_, err := s.DB.ExecContext(ctx, "DELETE FROM datastream_schema WHERE table_set = ?", s.rawName+"|"+s.cleanName)
	return err
}

// IsDataError reports whether err is the database refusing a row's content
// (too long, bad value...) rather than failing: retrying the same row can
// never succeed, so it is isolated and dead-lettered.
func IsDataError(err error) bool {
	if errors.Is(err, mysql.ErrPktTooLarge) {
		return true
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1153: // packet bigger than max_allowed_packet
		return true
	case 1048, // column cannot be null
		1101, // BLOB/TEXT can't have a default
		1264, // out of range
		1265, // data truncated
		1292, // incorrect value
		1366, // incorrect string value
		1367, // illegal value
		1406, // data too long
		3140, // invalid JSON (MySQL)
		4025: // CONSTRAINT failed (MariaDB JSON check)
		return true
	}
	return false
}
