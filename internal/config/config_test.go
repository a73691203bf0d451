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

func TestAMQPURLList(t *testing.T) {
	t.Setenv("DATASTREAM_ENV_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AMQP_URL", "amqp://u:p@default:5672/")
	const a, b, c = "amqp://u:p@a:5681/", "amqp://u:p@b:5682/", "amqp://u:p@c:5683/"
	for _, tc := range []struct {
		name      string
		args      []string
		url, qt   string
		wantError bool
	}{
		{"default, one node", nil, "amqp://u:p@default:5672/", "classic", false},
		{"one flag replaces the default", []string{"--amqp-url", a}, a, "classic", false},
		{"repeated flag adds nodes", []string{"--amqp-url", a, "--amqp-url", b, "--amqp-url", c}, a + "," + b + "," + c, "quorum", false},
		{"comma list", []string{"--amqp-url", a + "," + b}, a + "," + b, "quorum", false},
		{"explicit type wins", []string{"--amqp-url", a + "," + b, "--queue-type", "classic"}, a + "," + b, "classic", false},
		{"bad type", []string{"--queue-type", "stream"}, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := NewFlagSet("x")
			if err != nil {
				t.Fatal(err)
			}
			var cm Common
			cm.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err = cm.Validate()
			if tc.wantError {
				if err == nil {
					t.Fatal("Validate accepted a bad queue type")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cm.AMQPURL != tc.url || cm.QueueType != tc.qt {
				t.Errorf("got %q %s, want %q %s", cm.AMQPURL, cm.QueueType, tc.url, tc.qt)
			}
		})
	}
	if got, want := RedactURL(a+","+b), "amqp://u:xxxxx@a:5681/,amqp://u:xxxxx@b:5682/"; got != want {
		t.Errorf("RedactURL of a list: got %q, want %q", got, want)
	}
}
