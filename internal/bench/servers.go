package bench

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/datastream/datastream/internal/broker"
	"github.com/datastream/datastream/internal/store"
)

// The servers take most of the two cores at one line per message, so a
// report that stops at our own components hides where the time went. When
// RabbitMQ and MariaDB run on this machine (their addresses are loopback),
// their CPU over a run is read from /proc by process name; a remote server
// is not reported, rather than reported wrong.

// ServerCPU is the CPU a local server used during a run.
type ServerCPU struct {
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// MicrosPerLine is CPUSeconds over the run's lines: comparable between
	// a ceiling run and a Datastream run of the same input.
	MicrosPerLine float64 `json:"us_per_line"`
}

// serverProcs names the process of each server as /proc/PID/comm shows it.
var serverProcs = []struct {
	name  string
	comms []string
}{
	{"rabbitmq", []string{"beam.smp"}},
	{"mariadb", []string{"mariadbd", "mysqld"}},
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux build Go runs on (it is not HZ, and sysconf needs cgo).
const clockTicks = 100

// serverMeter holds the CPU of the local servers at the start of a run.
type serverMeter struct {
	names []string
	pids  [][]int
	start []float64
}

// startServers finds the local servers among those the run talks to.
func startServers(amqpURL, dsn string) *serverMeter {
	local := map[string]bool{}
	// A cluster's nodes all run here or none do: the first one tells.
	if urls := broker.SplitURLs(amqpURL); len(urls) > 0 {
		if u, err := amqp.ParseURI(urls[0]); err == nil {
			local["rabbitmq"] = loopback(u.Host)
		}
	}
	if c, err := mysql.ParseDSN(dsn); err == nil {
		var host string
		if addrs := store.Addrs(c); len(addrs) > 0 {
			host, _, _ = net.SplitHostPort(addrs[0])
		}
		local["mariadb"] = c.Net == "unix" || loopback(host)
	}
	m := &serverMeter{}
	for _, s := range serverProcs {
		if !local[s.name] {
			continue
		}
		pids := findProcs(s.comms)
		if len(pids) == 0 {
			continue
		}
		m.names = append(m.names, s.name)
		m.pids = append(m.pids, pids)
		m.start = append(m.start, procsCPU(pids))
	}
	return m
}

// stop reports each server's CPU since startServers.
func (m *serverMeter) stop(lines int64) []ServerCPU {
	var out []ServerCPU
	for i, name := range m.names {
		s := ServerCPU{Name: name, CPUSeconds: procsCPU(m.pids[i]) - m.start[i]}
		if lines > 0 {
			s.MicrosPerLine = s.CPUSeconds * 1e6 / float64(lines)
		}
		out = append(out, s)
	}
	return out
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// findProcs lists the processes whose command name is one of comms.
func findProcs(comms []string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	var pids []int
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(b))
		for _, c := range comms {
			if comm == c {
				if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

func procsCPU(pids []int) float64 {
	var total float64
	for _, pid := range pids {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			total += statCPU(b)
		}
	}
	return total
}

// statCPU is utime+stime of a /proc/PID/stat line, in seconds. The command
// name in parentheses may hold spaces and parentheses, so the fields are
// counted from the last ')'.
func statCPU(stat []byte) float64 {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	// After the name: state(3) ppid ... utime is field 14, stime 15.
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / clockTicks
}
