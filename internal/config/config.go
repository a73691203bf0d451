// Package config resolves settings in the order flags, environment, .env
// file, defaults, and knows the classic variable names of the original
// design (RABBIT_USER, MYSQL_USER, HOST, PORT...).
package config

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults are the contract: the names every component agrees on.
const (
	DefaultAMQPURL    = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultMySQLDSN   = "root@tcp(127.0.0.1:3306)/datastream"
	DefaultExchange   = "logs"
	DefaultRoutingKey = "logs"
	DefaultLakeQueue  = "queue-data-lake"
	DefaultCleanQueue = "queue-data-clean"
	DefaultRawTable   = "raw_log"
	DefaultCleanTable = "clean_log"
	DefaultLogFormat  = "combined"
)

// Env looks variables up in the process environment first and then in a
// .env file, so a .env never overrides what the shell exported.
type Env struct {
	file map[string]string
}

// LoadEnv reads the .env file at path if it exists. A missing file is not an
// error; a malformed one is, so a typo does not silently fall back to defaults.
func LoadEnv(path string) (*Env, error) {
	e := &Env{file: map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", path, n)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		e.file[k] = v
	}
	return e, sc.Err()
}

// Get returns the value of key from the environment or the .env file.
func (e *Env) Get(key string) (string, bool) {
	if v, ok := os.LookupEnv(key); ok {
		return v, true
	}
	if e == nil {
		return "", false
	}
	v, ok := e.file[key]
	return v, ok
}

// Or returns the value of the first key that is set, else def.
func (e *Env) Or(def string, keys ...string) string {
	for _, k := range keys {
		if v, ok := e.Get(k); ok && v != "" {
			return v
		}
	}
	return def
}

// AMQPURL is AMQP_URL, else a URL built from RABBIT_USER/RABBIT_PASSWORD
// (and RABBIT_HOST/RABBIT_PORT/RABBIT_VHOST), else the default.
func (e *Env) AMQPURL() string {
	if v := e.Or("", "AMQP_URL"); v != "" {
		return v
	}
	user, hasUser := e.Get("RABBIT_USER")
	pass, _ := e.Get("RABBIT_PASSWORD")
	host := e.Or("127.0.0.1", "RABBIT_HOST")
	port := e.Or("5672", "RABBIT_PORT")
	if !hasUser && host == "127.0.0.1" && port == "5672" {
		return DefaultAMQPURL
	}
	if !hasUser {
		user, pass = "guest", "guest"
	}
	u := url.URL{Scheme: "amqp", User: url.UserPassword(user, pass), Host: net.JoinHostPort(host, port), Path: "/"}
	if vh, ok := e.Get("RABBIT_VHOST"); ok {
		u.Path = "/" + url.PathEscape(vh)
	}
	return u.String()
}

// MySQLDSN is MYSQL_DSN, else a DSN built from MYSQL_USER, MYSQL_PASSWORD,
// HOST, PORT and MYSQL_DATABASE, else the default.
func (e *Env) MySQLDSN() string {
	if v := e.Or("", "MYSQL_DSN"); v != "" {
		return v
	}
	_, u := e.Get("MYSQL_USER")
	_, p := e.Get("MYSQL_PASSWORD")
	_, h := e.Get("HOST")
	_, po := e.Get("PORT")
	_, d := e.Get("MYSQL_DATABASE")
	if !u && !p && !h && !po && !d {
		return DefaultMySQLDSN
	}
	user := e.Or("root", "MYSQL_USER")
	cred := user
	if pass, ok := e.Get("MYSQL_PASSWORD"); ok && pass != "" {
		cred += ":" + pass
	}
	host := e.Or("127.0.0.1", "HOST")
	port := e.Or("3306", "PORT")
	db := e.Or("datastream", "MYSQL_DATABASE")
	return fmt.Sprintf("%s@tcp(%s)/%s", cred, net.JoinHostPort(host, port), db)
}

// RedactURL hides the passwords of an AMQP URL, or of a comma-separated
// list of them, for logs.
func RedactURL(s string) string {
	if strings.Contains(s, ",") {
		parts := strings.Split(s, ",")
		for i, p := range parts {
			parts[i] = redactOneURL(p)
		}
		return strings.Join(parts, ",")
	}
	return redactOneURL(s)
}

func redactOneURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// RedactDSN hides the password of a go-sql-driver DSN for logs.
func RedactDSN(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return dsn
	}
	cred := dsn[:at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return cred[:i] + ":xxxxx" + dsn[at:]
	}
	return dsn
}

// FlagSet wraps flag.FlagSet so every flag's default can come from an
// environment variable (or .env) named after it: --amqp-url ↔ AMQP_URL.
type FlagSet struct {
	*flag.FlagSet
	Env *Env
}

// NewFlagSet returns a flag set that reads .env from the working directory
// (or DATASTREAM_ENV_FILE).
func NewFlagSet(name string) (*FlagSet, error) {
	path := os.Getenv("DATASTREAM_ENV_FILE")
	if path == "" {
		path = ".env"
	}
	env, err := LoadEnv(path)
	if err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &FlagSet{FlagSet: fs, Env: env}, nil
}

// EnvName maps a flag name to its environment variable: "lake-queue" →
// "DATASTREAM_LAKE_QUEUE". The prefix keeps generic names (EXCHANGE,
// BATCH_SIZE) from colliding with other programs' settings.
func EnvName(flagName string) string {
	return "DATASTREAM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// String defines a string flag whose default is overridden by the environment.
func (f *FlagSet) String(p *string, name, def, usage string) {
	f.StringVar(p, name, f.Env.Or(def, EnvName(name)), usage+" (env "+EnvName(name)+")")
}

// Int defines an int flag whose default is overridden by the environment.
func (f *FlagSet) Int(p *int, name string, def int, usage string) {
	if v, ok := f.Env.Get(EnvName(name)); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	f.IntVar(p, name, def, usage+" (env "+EnvName(name)+")")
}

// Bool defines a bool flag whose default is overridden by the environment.
func (f *FlagSet) Bool(p *bool, name string, def bool, usage string) {
	if v, ok := f.Env.Get(EnvName(name)); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	f.BoolVar(p, name, def, usage+" (env "+EnvName(name)+")")
}

// Duration defines a duration flag whose default is overridden by the environment.
func (f *FlagSet) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := f.Env.Get(EnvName(name)); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		}
	}
	f.DurationVar(p, name, def, usage+" (env "+EnvName(name)+")")
}
