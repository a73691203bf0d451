package faults

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/datastream/datastream/internal/store"
)

// The scenarios of issue 17 on a 3-node RabbitMQ cluster (quorum queues)
// and a 3-node Galera cluster, real processes on this machine, started by
// scripts/cluster.sh. They run one after the other (each kills nodes of the
// clusters all of them share) and only under `make test-cluster`, which
// starts the clusters, points TEST_AMQP_URL and TEST_MYSQL_DSN at every
// node, and removes the clusters afterwards.

// clusterScript is scripts/cluster.sh when make test-cluster runs us.
var clusterScript = os.Getenv("DATASTREAM_CLUSTER")

// clusterRate is the writers' rate: three nodes of each server share the
// two cores with the components.
const clusterRate = 200

func needCluster(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if clusterScript == "" {
		t.Skip("needs the clusters of scripts/cluster.sh: run make test-cluster")
	}
}

// cluster runs scripts/cluster.sh with args and returns its output.
func cluster(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(clusterScript, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// clusterHarness is a harness on the clusters: the components get every
// node of each (the URL list and the DSN from make test-cluster).
func clusterHarness(t *testing.T) *harness {
	t.Helper()
	needCluster(t)
	h := baseHarness(t)
	// Every node is back at the end, whatever the test did.
	t.Cleanup(func() {
		for _, kind := range []string{"rabbit", "galera"} {
			for n := 1; n <= 3; n++ {
				if out, err := exec.Command(clusterScript, "start", kind, strconv.Itoa(n)).CombinedOutput(); err != nil {
					t.Logf("bring back %s %d: %v\n%s", kind, n, err, out)
				}
			}
		}
	})
	return h
}

// leader is the number of the RabbitMQ node leading the quorum queue q.
func (h *harness) leader(q string) string { return cluster(h.t, "leader", q) }

// writingNode is the number of the Galera node holding most connections to
// the test's database: the one the consumers write to.
func (h *harness) writingNode() string {
	h.t.Helper()
	cfg, err := mysql.ParseDSN(h.env.DSN)
	if err != nil {
		h.t.Fatal(err)
	}
	best, most := "", -1
	for i, addr := range store.Addrs(cfg) {
		c := cfg.Clone()
		c.Addr, c.DBName = addr, ""
		db, err := sql.Open("mysql", c.FormatDSN())
		if err != nil {
			continue
		}
		var n int
		err = db.QueryRow("SELECT COUNT(*) FROM information_schema.processlist WHERE db = ?", h.env.Database).Scan(&n)
		db.Close()
		if err == nil && n > most {
			best, most = strconv.Itoa(i+1), n
		}
	}
	if best == "" {
		h.t.Fatal("no Galera node answered")
	}
	h.t.Logf("consumers write to Galera node %s (%d connections)", best, most)
	return best
}

// runCluster is the common shape: start the components, write, let them
// flow, apply the fault, measure the time until every line written before
// it has landed, undo it, write a little more, and verify.
func runCluster(t *testing.T, scenario string, fault func(h *harness) (undo func())) {
	h := clusterHarness(t)
	h.startAll()
	w := startWriter(t, h.logPath, clusterRate, 17)
	h.flowing(clusterRate)
	time.Sleep(2 * time.Second)
	undo := fault(h)
	rec := h.recovery(w)()
	h.requireRunning(roles...)
	undo()
	time.Sleep(3 * time.Second)
	w.Stop()
	h.verify(scenario, w.Lines(), rec, "")
}

// C1. kill -9 the RabbitMQ node that leads the quorum queues; it comes
// back 10 s later and rejoins.
func TestCluster1KillQueueLeader(t *testing.T) {
	runCluster(t, "C1. kill -9 the quorum queues' leader node", func(h *harness) func() {
		n := h.leader(h.env.CleanQueue)
		t.Logf("quorum queue %s is led by node %s (lake queue by node %s)", h.env.CleanQueue, n, h.leader(h.env.LakeQueue))
		h.dlFaults++
		cluster(t, "kill", "rabbit", n)
		return func() {
			time.Sleep(10 * time.Second)
			cluster(t, "start", "rabbit", n)
		}
	})
}

// C2. Stop a RabbitMQ node gracefully (rabbitmqctl stop_app), start it
// again: the clients connected to it move to the others.
func TestCluster2StopRabbitNode(t *testing.T) {
	runCluster(t, "C2. rabbitmqctl stop_app on a node, start_app", func(h *harness) func() {
		n := h.leader(h.env.LakeQueue)
		h.dlFaults++
		cluster(t, "stop", "rabbit", n)
		return func() {
			time.Sleep(5 * time.Second)
			cluster(t, "start", "rabbit", n)
		}
	})
}

// C3. kill -9 the Galera node the consumers write to; it rejoins by IST
// later.
func TestCluster3KillGaleraNode(t *testing.T) {
	runCluster(t, "C3. kill -9 the Galera node written to", func(h *harness) func() {
		n := h.writingNode()
		cluster(t, "kill", "galera", n)
		return func() {
			time.Sleep(5 * time.Second)
			cluster(t, "start", "galera", n)
		}
	})
}

// C5. A RabbitMQ node and a Galera node killed within a second of each
// other.
func TestCluster5KillBoth(t *testing.T) {
	runCluster(t, "C5. kill -9 a RabbitMQ and a Galera node together", func(h *harness) func() {
		r, g := h.leader(h.env.CleanQueue), h.writingNode()
		h.dlFaults++
		cluster(t, "kill", "rabbit", r)
		time.Sleep(500 * time.Millisecond)
		cluster(t, "kill", "galera", g)
		return func() {
			time.Sleep(5 * time.Second)
			cluster(t, "start", "galera", g)
			cluster(t, "start", "rabbit", r)
		}
	})
}

// C4. Two producers (two web servers: two logs, two source hosts), two
// lake and three clean consumers competing on the same queues; one
// consumer of each kind killed with -9 midway and not restarted.
func TestCluster4Competing(t *testing.T) {
	h := clusterHarness(t)
	second := producer + "/2"
	log2 := filepath.Join(h.dir, "web2-access.log")
	h.extra[producer] = []string{"--source-host", "web1"}
	h.extra[second] = []string{"--source-host", "web2", "--log", log2, "--state-dir", filepath.Join(h.dir, "state2")}
	all := []string{producer, second, lake, lake + "/2", cleaner, cleaner + "/2", cleaner + "/3"}
	for _, r := range all {
		h.start(r)
	}
	w1 := startWriter(t, h.logPath, clusterRate/2, 41)
	w2 := startWriter(t, log2, clusterRate/2, 42)
	h.flowing(clusterRate / 2)
	time.Sleep(3 * time.Second)
	h.kill9(lake + "/2")
	h.kill9(cleaner + "/3")
	target := w1.Written() + w2.Written()
	rec, err := h.waitLanded(target, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h.requireRunning(producer, second, lake, cleaner, cleaner+"/2")
	time.Sleep(5 * time.Second)
	w1.Stop()
	w2.Stop()
	// Each writer numbers its files from 0: the second's go after the first's.
	lines := w1.Lines()
	for _, p := range w2.Lines() {
		p.file += 1000
		lines = append(lines, p)
	}
	h.verify("C4. 2 producers, 2 lake + 3 clean consumers, kill -9 one of each", lines, rec, "")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var hosts string
	if err := h.st.DB.QueryRowContext(ctx, "SELECT GROUP_CONCAT(DISTINCT s.host ORDER BY s.host) FROM "+
		store.QuoteIdent(h.env.RawTable)+" r JOIN "+store.QuoteIdent(store.SourcesTable)+" s ON s.id = r.source_id").Scan(&hosts); err != nil {
		t.Fatal(err)
	}
	if hosts != "web1,web2" {
		t.Errorf("raw_log rows come from hosts %q, want web1,web2", hosts)
	}
	fmt.Fprintf(os.Stderr, "C4: rows from hosts %s\n", hosts)
}
