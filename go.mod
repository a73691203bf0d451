module github.com/datastream/datastream

go 1.26.8

require (
	github.com/fsnotify/fsnotify v1.10.1
	github.com/go-sql-driver/mysql v1.10.1
	github.com/maxmind/mmdbwriter v1.2.0
	github.com/medama-io/go-useragent v1.2.5
	github.com/oschwald/maxminddb-golang/v2 v2.9.1
	github.com/phuslu/iploc v1.0.20260915
	github.com/rabbitmq/amqp091-go v1.16.0
	github.com/satyrius/gonx v1.4.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/boyter/go-string v1.0.5 // indirect
	github.com/smartystreets/goconvey v1.8.1 // indirect
	go4.org/netipx v0.0.0-20231129151722-fdeea329fbba // indirect
	golang.org/x/sys v0.50.0 // indirect
)
