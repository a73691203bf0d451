package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/testenv"
)

// grantsFor reads deploy/mysql/grants.sql with the test's database and
// users of its own (the shared server's users are left alone), runs it as
// the test's administrator and returns the DSNs of the lake and clean users.
func grantsFor(t *testing.T, env *testenv.Env) (lakeDSN, cleanDSN string, run func(string)) {
	t.Helper()
	text, err := os.ReadFile("../../deploy/mysql/grants.sql")
	if err != nil {
		t.Fatal(err)
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	users := map[string]string{}
	r := []string{"`datastream`.", "`" + env.Database + "`."}
	for _, u := range []string{"datastream_admin", "datastream_lake", "datastream_clean", "datastream_dashboard"} {
		users[u] = "dst" + u[len("datastream_"):] + "_" + suffix
		r = append(r, "'"+u+"'", "'"+users[u]+"'")
	}
	sqlText := strings.NewReplacer(r...).Replace(string(text))
	root := env.Store(t).DB
	run = func(stmt string) {
		t.Helper()
		if _, err := root.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		for _, u := range users {
			_, _ = root.Exec("DROP USER IF EXISTS '" + u + "'@'%'")
		}
	})
	var stmt strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		stmt.WriteString(line + "\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			run(strings.TrimSpace(stmt.String()))
			stmt.Reset()
		}
	}
	dsn := func(user, pass string) string {
		cfg, err := mysql.ParseDSN(env.DSN)
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Passwd = user, pass
		return cfg.FormatDSN()
	}
	return dsn(users["datastream_lake"], "change-me-lake"), dsn(users["datastream_clean"], "change-me-clean"), run
}

func TestConsumersRunWithLeastPrivilege(t *testing.T) {
	env := testenv.Parallel(t)
	path, want := writeLog(t, hostileLines(), 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	runCmd(t, ctx, append([]string{"setup"}, env.Args()...)...)
	lakeDSN, cleanDSN, run := grantsFor(t, env)

	start := func(name, dsn string) (*exec.Cmd, *testenv.SyncBuffer) {
		return startCmd(t, ctx, withArg(append([]string{name}, env.Args()...), "--mysql-dsn", dsn)...)
	}
	lake, _ := start("data-lake-consumer", lakeDSN)
	clean, cleanLog := start("data-clean-consumer", cleanDSN)
	runCmd(t, ctx, append([]string{"logs-producer", "--log", path, "--follow=false", "--state-dir", t.TempDir()}, env.Args()...)...)
	st := env.Store(t)
	dlq := broker.DeadLetterQueue(env.CleanQueue)
	for {
		var raw, cl int
		_ = st.DB.QueryRow("SELECT COUNT(*) FROM raw_log").Scan(&raw)
		_ = st.DB.QueryRow("SELECT COUNT(*) FROM clean_log").Scan(&cl)
		if raw == len(want) && cl+env.QueueDepth(t, dlq) == len(want) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("with the grants of grants.sql: raw %d, clean %d of %d", raw, cl, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []*exec.Cmd{lake, clean} {
		_ = c.Process.Signal(syscall.SIGTERM)
		if err := c.Wait(); err != nil {
			t.Errorf("consumer exit: %v", err)
		}
	}
	checkTables(t, env, want, 2, 2)
	// The clean consumer folded and derived its rollups with its grants.
	if l := cleanLog.String(); strings.Contains(l, "denied") || strings.Contains(l, "fold rollups") {
		t.Errorf("the clean consumer could not keep its rollups:\n%s", l)
	}
	var marks int
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM clean_log_rollup_dirty").Scan(&marks); err != nil || marks != 0 {
		t.Errorf("%d hours and days left to derive after the clean consumer stopped (%v)", marks, err)
	}

	// Without its grants a consumer stops at start-up and says why.
	run("REVOKE ALL PRIVILEGES, GRANT OPTION FROM '" + mustUser(t, cleanDSN) + "'@'%'")
	r := runExit(t, time.Minute, withArg(append([]string{"data-clean-consumer"}, env.Args()...), "--mysql-dsn", cleanDSN)...)
	if r.code != 1 || !strings.Contains(r.stderr, "MySQL at "+mustUser(t, cleanDSN)+":xxxxx@") ||
		!strings.Contains(r.stderr, "denied") || !strings.Contains(r.stderr, "not retried") {
		t.Errorf("without grants: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "change-me-clean") {
		t.Errorf("the password is in the output:\n%s", r.stderr)
	}
	t.Logf("without grants: %s", strings.TrimSpace(r.stderr))
}

func mustUser(t *testing.T, dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.User
}
