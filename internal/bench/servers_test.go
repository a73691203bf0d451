package bench

import "testing"

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want float64
	}{
		{"20935 (cat) R 20933 20933 4207 0 -1 4194304 99 0 0 0 250 75 0 0 20 0 1 0 373606", 3.25},
		// A command name with spaces and parentheses must not shift the fields.
		{"7 (a b) (c)) S 1 1 1 0 -1 0 0 0 0 0 1000 1 0 0 20 0 1 0 5", 10.01},
		{"garbage", 0},
		{"1 (short) S 1 2", 0},
	} {
		if got := statCPU([]byte(tc.stat)); got != tc.want {
			t.Errorf("statCPU(%q) = %v, want %v", tc.stat, got, tc.want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "localhost": true, "::1": true, "127.0.0.53": true,
		"10.0.0.1": false, "rabbit.example": false, "": false,
	} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v", host, got)
		}
	}
}

func TestStartServersSkipsRemoteServers(t *testing.T) {
	m := startServers("amqp://guest:guest@rabbit.example:5672/", "u:p@tcp(db.example:3306)/x")
	if len(m.names) != 0 {
		t.Fatalf("remote servers measured: %v", m.names)
	}
}
