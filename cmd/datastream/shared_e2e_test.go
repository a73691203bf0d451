package main

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

var (
	fastOnce sync.Once
	fastPath string
	fastErr  error
)

// fastBinary is datastream built without the race detector, for tests
// that push real logs of tens of thousands of lines through.
func fastBinary(t *testing.T) string {
	t.Helper()
	binary(t) // makes binDir, removed by TestMain
	fastOnce.Do(func() {
		dir, err := os.MkdirTemp(binDir, "fast")
		if err != nil {
			fastErr = err
			return
		}
		fastPath, fastErr = testenv.BuildBinary(dir, false)
	})
	if fastErr != nil {
		t.Fatal(fastErr)
	}
	return fastPath
}

// Every shared data file (real access logs beside the repository, never
// committed) goes through the whole pipeline with enrichment: every line
// is stored, every public address has a country, and the shares of rows
// with a country, a browser family and a bot flag are reported.
func TestSharedDataEnriched(t *testing.T) {
	const dir = "../../../shared/data/"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	for _, de := range entries {
		name := de.Name()
		if !strings.Contains(name, "log") || strings.HasSuffix(name, ".md") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			env := testenv.Parallel(t)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			out := runFast(t, ctx, append([]string{"run", "--once", "--log", dir + name, "--log-format", "auto"}, env.Args()...)...)
			db := env.Store(t).DB
			var rows, country, public, publicCountry, family, bots int
			err := db.QueryRow(`SELECT COUNT(*), COUNT(country), SUM(network = 'public'), SUM(network = 'public' AND country IS NOT NULL),
				COUNT(ua_family), COALESCE(SUM(is_bot), 0) FROM clean_log`).Scan(&rows, &country, &public, &publicCountry, &family, &bots)
			if err != nil {
				t.Fatal(err)
			}
			if rows == 0 || !strings.Contains(out, "rejected 0,") {
				t.Fatalf("%d rows; run said:\n%s", rows, out)
			}
			// The embedded database lacks a few ranges (0.4% of the lines of
			// ezpaarse's log, e.g. 213.247.13.71): a country for 99% at least.
			if publicCountry*100 < public*99 {
				t.Errorf("%d of %d public addresses have a country", publicCountry, public)
			}
			pct := func(n int) float64 { return 100 * float64(n) / float64(rows) }
			t.Logf("%s: %d rows; with a country %.1f%%, with a browser family %.1f%%, bots %.1f%%",
				name, rows, pct(country), pct(family), pct(bots))
			for _, q := range []string{
				"SELECT COALESCE(country, 'NULL'), COUNT(*) n FROM clean_log GROUP BY 1 ORDER BY n DESC LIMIT 5",
				"SELECT bot_name, COUNT(*) n FROM clean_log WHERE is_bot GROUP BY 1 ORDER BY n DESC LIMIT 5",
				"SELECT COALESCE(ua_family, 'NULL'), COUNT(*) n FROM clean_log GROUP BY 1 ORDER BY n DESC LIMIT 5",
			} {
				t.Logf("%s: %s", q, top(t, db, q))
			}
		})
	}
}

func runFast(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, fastBinary(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("datastream %s: %v\n%s", args[0], err, out)
	}
	return string(out)
}

func top(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var parts []string
	for rs.Next() {
		var k, n string
		if err := rs.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, k+" "+n)
	}
	return strings.Join(parts, ", ")
}
