package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// Common holds the settings every component shares: where the broker and the
// database are, and the names of the topology and tables. The defaults are
// the contract; the flags let tests and users run side by side.
type Common struct {
	AMQPURL    string
	MySQLDSN   string
	Exchange   string
	RoutingKey string
	LakeQueue  string
	CleanQueue string
	RawTable   string
	CleanTable string
	LogFormat  string
	QueueType  string

	AMQPTLS  TLSFiles
	MySQLTLS TLSFiles
}

// TLSFiles names PEM files for a TLS client.
type TLSFiles struct {
	CA, Cert, Key string
	SkipVerify    bool
}

// Register defines the common flags on fs.
func (c *Common) Register(fs *FlagSet) {
	c.AMQPURL = fs.Env.AMQPURL()
	fs.Var(&urlList{list: &c.AMQPURL}, "amqp-url", "RabbitMQ URL; amqps:// for TLS. The nodes of a cluster: several URLs, comma-separated or the flag repeated; every component fails over among them (env AMQP_URL, or RABBIT_USER/RABBIT_PASSWORD)")
	fs.StringVar(&c.MySQLDSN, "mysql-dsn", fs.Env.MySQLDSN(), "MySQL/MariaDB DSN (go-sql-driver form); the database is created if missing. The nodes of a Galera cluster: several addresses, tcp(host1:3306,host2:3306,...) (env MYSQL_DSN, or MYSQL_USER/MYSQL_PASSWORD/HOST/PORT/MYSQL_DATABASE)")
	fs.String(&c.Exchange, "exchange", DefaultExchange, "topic exchange the producer publishes to")
	fs.String(&c.RoutingKey, "routing-key", DefaultRoutingKey, "routing key of every message")
	fs.String(&c.LakeQueue, "lake-queue", DefaultLakeQueue, "queue of the data-lake consumer")
	fs.String(&c.CleanQueue, "clean-queue", DefaultCleanQueue, "queue of the data-clean consumer")
	fs.String(&c.RawTable, "raw-table", DefaultRawTable, "table of raw lines")
	fs.String(&c.CleanTable, "clean-table", DefaultCleanTable, "table of parsed lines")
	fs.String(&c.LogFormat, "log-format", DefaultLogFormat, "preset name (combined, common, main, proxy, ezproxy, json), auto, a log_format string, or @nginx.conf:name")
	fs.String(&c.QueueType, "queue-type", "", "queue type when declaring: classic or quorum (default: quorum when --amqp-url names several nodes, else classic)")
	fs.String(&c.AMQPTLS.CA, "amqp-tls-ca", "", "PEM file of CAs to trust for amqps://")
	fs.String(&c.AMQPTLS.Cert, "amqp-tls-cert", "", "PEM client certificate for amqps://")
	fs.String(&c.AMQPTLS.Key, "amqp-tls-key", "", "PEM client key for amqps://")
	fs.Bool(&c.AMQPTLS.SkipVerify, "amqp-tls-insecure", false, "do not verify the broker's certificate (testing only)")
	fs.String(&c.MySQLTLS.CA, "mysql-tls-ca", "", "PEM file of CAs to trust; enables TLS to MySQL")
	fs.String(&c.MySQLTLS.Cert, "mysql-tls-cert", "", "PEM client certificate for MySQL")
	fs.String(&c.MySQLTLS.Key, "mysql-tls-key", "", "PEM client key for MySQL")
	fs.Bool(&c.MySQLTLS.SkipVerify, "mysql-tls-insecure", false, "do not verify MySQL's certificate (testing only)")
}

// Validate fails early, with a message that says what to change.
func (c *Common) Validate() error {
	if c.QueueType == "" {
		c.QueueType = "classic"
		if strings.Contains(c.AMQPURL, ",") {
			c.QueueType = "quorum"
		}
	}
	if c.QueueType != "classic" && c.QueueType != "quorum" {
		return fmt.Errorf("--queue-type must be classic or quorum, not %q", c.QueueType)
	}
	for flag, v := range map[string]string{"exchange": c.Exchange, "lake-queue": c.LakeQueue, "clean-queue": c.CleanQueue, "raw-table": c.RawTable, "clean-table": c.CleanTable} {
		if v == "" {
			return fmt.Errorf("--%s must not be empty", flag)
		}
	}
	return nil
}

// urlList is a flag that takes one URL or a comma-separated list, and adds
// to the list when repeated; the first use replaces the default.
type urlList struct {
	list *string
	set  bool
}

func (u *urlList) String() string {
	if u == nil || u.list == nil {
		return ""
	}
	return RedactURL(*u.list)
}

func (u *urlList) Set(v string) error {
	if u.set && *u.list != "" {
		v = *u.list + "," + v
	}
	*u.list, u.set = v, true
	return nil
}

// Enabled reports whether any TLS file or option was given.
func (t TLSFiles) Enabled() bool { return t.CA != "" || t.Cert != "" || t.SkipVerify }

// Config builds a tls.Config from the files; nil when TLS was not asked for.
func (t TLSFiles) Config() (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.SkipVerify} //nolint:gosec // opt-in for tests
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate found in %s", t.CA)
		}
		cfg.RootCAs = pool
	}
	if t.Cert != "" || t.Key != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
