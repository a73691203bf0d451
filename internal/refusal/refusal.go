// Package refusal tells the errors retrying cannot heal (bad credentials, no
// permission, a database that does not exist and cannot be created) from
// those it can (the network, a server restarting). A component stops at
// start-up on the first kind, with a message that says what to change, and
// keeps retrying the second.
package refusal

import (
	"errors"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
)

// MySQL error numbers of a refusal: access denied (to the server, to a
// database, to a table, to a column, to an operation), a database that does
// not exist, a plugin login refused.
var mysqlRefusals = map[uint16]string{
	1044: "access to the database denied",
	1045: "access denied (user or password)",
	1049: "unknown database",
	1142: "a command on a table denied (missing grant)",
	1143: "a column denied (missing grant)",
	1227: "an operation denied (missing privilege)",
	1698: "access denied (user or password)",
}

// Permanent reports whether err is a refusal by RabbitMQ or MySQL that the
// same request will meet again, and says in a few words what it is
// ("refused access: ...", to follow the server's name).
func Permanent(err error) (what string, ok bool) {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.AccessRefused:
			return "refused access: " + ae.Reason, true
		case amqp.NotAllowed:
			return "did not allow it: " + ae.Reason, true
		}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		if what, ok := mysqlRefusals[me.Number]; ok {
			return "refused: " + what + ": " + me.Message, true
		}
	}
	return "", false
}

// Error is a refusal explained: its text is the explanation, and it wraps
// the library's error for errors.Is and errors.As.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }
