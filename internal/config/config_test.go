package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	if err := os.WriteFile(envFile, []byte("# comment\nDATASTREAM_EXCHANGE=from-file\nDATASTREAM_LAKE_QUEUE='lake-file'\nexport DATASTREAM_CLEAN_QUEUE=\"clean-file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATASTREAM_ENV_FILE", envFile)
	t.Setenv("DATASTREAM_LAKE_QUEUE", "lake-env")
	fs, err := NewFlagSet("x")
	if err != nil {
		t.Fatal(err)
	}
	var c Common
	c.Register(fs)
	if err := fs.Parse([]string{"--clean-queue", "clean-flag"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"file beats default", c.Exchange, "from-file"},
		{"env beats file", c.LakeQueue, "lake-env"},
		{"flag beats all", c.CleanQueue, "clean-flag"},
		{"default", c.RawTable, DefaultRawTable},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestClassicVariables(t *testing.T) {
	for _, k := range []string{"AMQP_URL", "MYSQL_DSN", "RABBIT_USER", "RABBIT_PASSWORD", "MYSQL_USER", "MYSQL_PASSWORD", "HOST", "PORT", "MYSQL_DATABASE", "RABBIT_HOST", "RABBIT_PORT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	e := &Env{file: map[string]string{}}
	if got := e.AMQPURL(); got != DefaultAMQPURL {
		t.Errorf("default AMQP URL: %q", got)
	}
	if got := e.MySQLDSN(); got != DefaultMySQLDSN {
		t.Errorf("default DSN: %q", got)
	}
	e.file = map[string]string{"RABBIT_USER": "ru", "RABBIT_PASSWORD": "p@ss", "MYSQL_USER": "mu", "MYSQL_PASSWORD": "mp", "HOST": "db.local", "PORT": "3307", "MYSQL_DATABASE": "logsdb"}
	if got, want := e.AMQPURL(), "amqp://ru:p%40ss@127.0.0.1:5672/"; got != want {
		t.Errorf("AMQP URL: got %q, want %q", got, want)
	}
	if got, want := e.MySQLDSN(), "mu:mp@tcp(db.local:3307)/logsdb"; got != want {
		t.Errorf("DSN: got %q, want %q", got, want)
	}
	t.Setenv("MYSQL_DSN", "x@tcp(h:1)/d")
	if got := e.MySQLDSN(); got != "x@tcp(h:1)/d" {
		t.Errorf("MYSQL_DSN should win: %q", got)
	}
}

func TestRedact(t *testing.T) {
	if got := RedactURL("amqp://u:secret@h:5672/"); got != "amqp://u:xxxxx@h:5672/" {
		t.Errorf("RedactURL: %q", got)
	}
	if got := RedactDSN("u:secret@tcp(h:3306)/d"); got != "u:xxxxx@tcp(h:3306)/d" {
		t.Errorf("RedactDSN: %q", got)
	}
}
