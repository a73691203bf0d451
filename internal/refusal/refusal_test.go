package refusal

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
)

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"amqp credentials", fmt.Errorf("connect to RabbitMQ: %w", amqp.ErrCredentials), true},
		{"amqp vhost", fmt.Errorf("connect: %w", amqp.ErrVhost), true},
		{"amqp channel access refused", &amqp.Error{Code: amqp.AccessRefused, Reason: "ACCESS_REFUSED - configure access to exchange"}, true},
		{"amqp connection forced (restart)", &amqp.Error{Code: amqp.ConnectionForced, Reason: "shutdown"}, false},
		{"amqp closed", amqp.ErrClosed, false},
		{"mysql access denied", fmt.Errorf("create database: %w", &mysql.MySQLError{Number: 1045, Message: "Access denied for user 'x'@'localhost'"}), true},
		{"mysql db denied", &mysql.MySQLError{Number: 1044}, true},
		{"mysql table denied", &mysql.MySQLError{Number: 1142}, true},
		{"mysql deadlock", &mysql.MySQLError{Number: 1213}, false},
		{"mysql gone", mysql.ErrInvalidConn, false},
		{"refused connection", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"eof", io.EOF, false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			what, got := Permanent(tc.err)
			if got != tc.want {
				t.Fatalf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if got && what == "" {
				t.Fatal("a refusal must say what it is")
			}
		})
	}
}
