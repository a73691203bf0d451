package faults

import (
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/datastream/datastream/internal/testenv"
)

// bin is the datastream binary built once for the whole package.
var bin string

// skipReason is set when the package cannot run here (short mode, no
// services); every test then skips with it.
var skipReason string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		skipReason = "fault tests take minutes; skipped in -short mode (run make test-faults)"
		return m.Run()
	}
	if clusterScript != "" {
		// make test-cluster: TEST_AMQP_URL and TEST_MYSQL_DSN name the
		// clusters' nodes, which cluster.sh up has waited for.
	} else if err := servicesUp(); err != nil {
		skipReason = "RabbitMQ/MariaDB not reachable (run scripts/services.sh): " + err.Error()
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "faults:", skipReason)
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "datastream-faults")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin, err = testenv.BuildBinary(dir, false); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	code := m.Run()
	writeResults()
	return code
}

func servicesUp() error {
	e := &testenv.Env{AMQPURL: testenv.AMQPURL(), DSN: testenv.MySQLServerDSN()}
	for _, addr := range []string{e.AMQPAddr(), e.MySQLAddr()} {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

func needServices(t *testing.T) {
	t.Helper()
	if clusterScript != "" {
		t.Skip("make test-cluster runs the cluster scenarios only")
	}
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// result is one row of the table in docs/reliability.md.
type result struct {
	Scenario   string
	Written    int
	Raw        int
	Clean      int
	Dead       int // lines dead-lettered, as recorded in the database
	DLQ        int // messages in the dead-letter queue
	Repeats    int // of them, repeats of a line already there
	Lost       int
	Duplicated int
	Recover    time.Duration // from the end of the fault until every row landed
	Note       string
}

var (
	resultsMu sync.Mutex
	results   []result
)

func addResult(r result) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
}

// writeResults prints the table and, with FAULTS_RESULTS=file, writes it
// there (make test-faults does, for docs/reliability.md).
func writeResults() {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		return
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Scenario < results[j].Scenario })
	var b strings.Builder
	b.WriteString("| scenario | lines written | raw_log rows | clean_log rows + dead letters | DLQ messages | lost | duplicated | repeated dead letters | time to recover | note |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %d | %d | %d + %d = %d | %d | %d | %d | %d | %s | %s |\n",
			r.Scenario, r.Written, r.Raw, r.Clean, r.Dead, r.Clean+r.Dead, r.DLQ, r.Lost, r.Duplicated, r.Repeats, fmtRecover(r.Recover), r.Note)
	}
	fmt.Print(b.String())
	if f := os.Getenv("FAULTS_RESULTS"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "faults:", err)
		}
	}
}

func fmtRecover(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
