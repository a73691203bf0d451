// Package faults holds Datastream's fault tests: the real binary, the real
// RabbitMQ and MariaDB, a writer appending to an access log, and one fault at
// a time (kill -9, outages through a TCP proxy, log rotation, a real nginx),
// each ending with an exact check that every line written is stored once.
// See docs/reliability.md. The package has no code outside its tests.
package faults
