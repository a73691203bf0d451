package broker_test

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/testenv"
)

// deadURL is the test broker's URL moved to a loopback port where nothing
// listens, with a password that must not show in errors.
func deadURL(t *testing.T, live string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	u, err := url.Parse(live)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	u.User = url.UserPassword("guest", "s3cret-pw")
	return u.String()
}

// Dial goes through a list of nodes until one answers, whichever it starts
// at; when none does, the error names every node and no password.
func TestDialFailsOver(t *testing.T) {
	env := testenv.Parallel(t)
	live := env.AMQPURL
	if strings.Contains(live, ",") {
		t.Skip("TEST_AMQP_URL is already a list")
	}
	d := broker.Dialer{URL: deadURL(t, live) + ", " + live + "," + deadURL(t, live), Name: "failover test"}
	if got := broker.SplitURLs(d.URL); len(got) != 3 || got[1] != live {
		t.Fatalf("SplitURLs = %q", got)
	}
	for range 6 { // a random first node each time: every order is met
		conn, err := d.Dial()
		if err != nil {
			t.Fatalf("Dial with one live node of three: %v", err)
		}
		conn.Close()
	}
	d.URL = deadURL(t, live) + "," + deadURL(t, live)
	_, err := d.Dial()
	if err == nil {
		t.Fatal("Dial with every node down succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") || strings.Count(err.Error(), "connect to RabbitMQ at 127.0.0.1:") != 2 {
		t.Fatalf("error should name both nodes and no password: %v", err)
	}
}
