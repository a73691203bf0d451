package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
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
	fs.StringVar(&c.AMQPURL, "amqp-url", fs.Env.AMQPURL(), "RabbitMQ URL; amqps:// for TLS (env AMQP_URL, or RABBIT_USER/RABBIT_PASSWORD)")
	fs.StringVar(&c.MySQLDSN, "mysql-dsn", fs.Env.MySQLDSN(), "MySQL/MariaDB DSN (go-sql-driver form); the database is created if missing (env MYSQL_DSN, or MYSQL_USER/MYSQL_PASSWORD/HOST/PORT/MYSQL_DATABASE)")
	fs.String(&c.Exchange, "exchange", DefaultExchange, "topic exchange the producer publishes to")
	fs.String(&c.RoutingKey, "routing-key", DefaultRoutingKey, "routing key of every message")
	fs.String(&c.LakeQueue, "lake-queue", DefaultLakeQueue, "queue of the data-lake consumer")
	fs.String(&c.CleanQueue, "clean-queue", DefaultCleanQueue, "queue of the data-clean consumer")
	fs.String(&c.RawTable, "raw-table", DefaultRawTable, "table of raw lines")
	fs.String(&c.CleanTable, "clean-table", DefaultCleanTable, "table of parsed lines")
	fs.String(&c.LogFormat, "log-format", DefaultLogFormat, "preset name (combined, common, main, proxy, ezproxy, json), auto, a log_format string, or @nginx.conf:name")
	fs.String(&c.QueueType, "queue-type", "classic", "queue type when declaring: classic or quorum")
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
