package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestRedactorMasksLibraryErrorText(t *testing.T) {
	var r Redactor
	r.AddURL("amqp://app:s3cr%40t@rabbit:5672/vhost")
	r.AddDSN("app:hunter2!@tcp(db:3306)/ds")
	r.AddURL("amqp://app:pa:ss@host:bad-port/") // unparseable

	// What libraries actually print.
	_, perr := url.Parse(strings.Join([]string{"amqp://app:s3cr@t@rabbit", "notaport/"}, ":"))
	_, derr := mysql.ParseDSN("app:hunter2!@tcp(db:3306/ds")
	for _, in := range []string{
		perr.Error(),
		"connect: amqp://app:s3cr%40t@rabbit:5672/vhost refused",
		"dsn app:hunter2!@tcp(db:3306)/ds: " + fmt.Sprint(derr),
		"bad url amqp://app:pa:ss@host:bad-port/",
	} {
		out := r.String(in)
		for _, sec := range []string{"s3cr@t", "s3cr%40t", "hunter2!", "pa:ss"} {
			if strings.Contains(out, sec) {
				t.Errorf("%q still holds %q after redaction: %q", in, sec, out)
			}
		}
	}
	if got := r.String("nothing secret here"); got != "nothing secret here" {
		t.Errorf("changed an innocent string: %q", got)
	}
}

func TestLoggerScrubsEveryAttribute(t *testing.T) {
	var r Redactor
	r.AddDSN("root:topsecret@tcp(127.0.0.1:3306)/x")
	for _, jsonOut := range []bool{false, true} {
		var buf bytes.Buffer
		log, err := New(&buf, Options{Level: "debug", JSON: jsonOut}, &r)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("dial root:topsecret@tcp", "err", errors.New("access denied for topsecret"),
			"dsn", "root:topsecret@tcp(x)/", "n", 3, "any", []string{"topsecret"})
		log.With("dsn", "topsecret").Debug("with")
		out := buf.String()
		if strings.Contains(out, "topsecret") {
			t.Errorf("json=%v: secret in the log: %s", jsonOut, out)
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("json=%v: nothing masked: %s", jsonOut, out)
		}
		if jsonOut {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Errorf("not JSON: %q: %v", line, err)
				}
			}
		}
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{Level: "warn"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("level warn: %q", buf.String())
	}
	if _, err := New(&buf, Options{Level: "loud"}, nil); err == nil {
		t.Error("a bad level was accepted")
	}
}
