#!/usr/bin/env bash
# A 3-node RabbitMQ cluster and a 3-node MariaDB Galera cluster on this
# machine, beside (and never touching) the system RabbitMQ on 5672 and
# MariaDB on 3306. Every node is a plain process with its own folder under
# $CLUSTER_DIR; nothing is installed as a service.
#
#   scripts/cluster.sh up | down | status | env
#   scripts/cluster.sh kill  rabbit|galera N   # kill -9 node N (1-3)
#   scripts/cluster.sh stop  rabbit|galera N   # graceful: rabbitmqctl stop_app / SIGTERM
#   scripts/cluster.sh start rabbit|galera N   # bring it back, wait until it has rejoined
#   scripts/cluster.sh leader QUEUE            # number of the node leading a quorum queue
#   scripts/cluster.sh pid rabbit|galera N     # the node's process id
#
# Ports: RabbitMQ AMQP 5681-5683, distribution 25681-25683; MariaDB
# 3311-3313, Galera 4571/4581/4591 (+1 IST, +2 SST). `eval "$(scripts/cluster.sh env)"`
# sets AMQP_URL and MYSQL_DSN (every node, for failover) and MYSQL_CLI
# (arguments of the mariadb client for a live node). See ../shared/CLUSTER-NOTES.md.
set -euo pipefail

DIR=${CLUSTER_DIR:-/var/tmp/datastream-cluster}
DB=${CLUSTER_DATABASE:-datastream}
NODES=(1 2 3)
GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so

say() { printf 'cluster: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
tcp_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
check_node() { [[ ${1:-} =~ ^[123]$ ]] || die "node must be 1, 2 or 3, not '${1:-}'"; }
need_root() { [[ $(id -u) -eq 0 ]] || die "run as root (nodes run as the rabbitmq and mysql users)"; }

# pid_alive FILE: the pid in FILE names a live process.
pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- RabbitMQ ---------------------------------------------------------------

rnode() { echo "ds$1@localhost"; }
rdir() { echo "$DIR/rabbit$1"; }
rport() { echo $((5680 + $1)); }
# rctl N ARGS: rabbitmqctl aimed at node N only (never the system node).
rctl() { local n=$1; shift; rabbitmqctl -q -n "$(rnode "$n")" "$@"; }
rabbit_pid() {
	local f
	f="$(rdir "$1")/pid"
	pid_alive "$f" && cat "$f"
}
# rabbit_app_running N: the node is up and its RabbitMQ application runs.
rabbit_app_running() { rctl "$1" status >/dev/null 2>&1 && tcp_up "$(rport "$1")"; }

rabbit_start_vm() {
	local n=$1 d
	d=$(rdir "$n")
	mkdir -p "$d/mnesia" "$d/log"
	printf 'listeners.tcp.local = 127.0.0.1:%s\nloopback_users.guest = true\n' "$(rport "$n")" >"$d/rabbitmq.conf"
	: >"$d/plugins"
	chown -R rabbitmq:rabbitmq "$d"
	# The real script, not Debian's wrapper (which would overwrite the
	# system node's startup log); HOME gives it the rabbitmq user's cookie.
	(cd "$d" && runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq RABBITMQ_NODENAME="$(rnode "$n")" \
		RABBITMQ_CONFIG_FILE="$d/rabbitmq" RABBITMQ_DIST_PORT=$((25680 + n)) RABBITMQ_MNESIA_BASE="$d/mnesia" \
		RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/pid" RABBITMQ_ENABLED_PLUGINS_FILE="$d/plugins" \
		/usr/lib/rabbitmq/bin/rabbitmq-server -detached >"$d/log/startup.log" 2>&1)
	local i
	for ((i = 0; i < 240; i++)); do
		rctl "$n" ping >/dev/null 2>&1 && break
		sleep 0.5
	done
	rctl "$n" await_startup --timeout 120 >/dev/null
}

rabbit_up() {
	local n
	for n in "${NODES[@]}"; do
		if rabbit_app_running "$n"; then
			continue
		fi
		if rctl "$n" ping >/dev/null 2>&1; then
			rctl "$n" start_app >/dev/null
		else
			say "starting RabbitMQ node $(rnode "$n") on port $(rport "$n")"
			rabbit_start_vm "$n"
		fi
		if [[ $n != 1 ]] && ! rctl "$n" cluster_status 2>/dev/null | grep -q "$(rnode 1)"; then
			say "joining $(rnode "$n") to $(rnode 1)"
			{ rctl "$n" stop_app && rctl "$n" join_cluster "$(rnode 1)" && rctl "$n" start_app; } \
				>>"$(rdir "$n")/log/join.log" 2>&1 || die "join failed; see $(rdir "$n")/log/join.log"
		fi
	done
	rctl 1 await_online_nodes 3 --timeout 60 >/dev/null 2>&1 || true
}

rabbit_kill() {
	local pid
	pid=$(rabbit_pid "$1") || { say "RabbitMQ node $1 is not running"; return 0; }
	kill -9 "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

rabbit_stop() { rctl "$1" stop_app >/dev/null; }

rabbit_start() {
	local n=$1 other
	rabbit_app_running "$n" && return 0
	if rctl "$n" ping >/dev/null 2>&1; then
		rctl "$n" start_app >/dev/null
	else
		rabbit_start_vm "$n"
	fi
	rctl "$n" await_startup --timeout 120 >/dev/null
	for other in "${NODES[@]}"; do
		[[ $other == "$n" ]] && continue
		if rabbit_app_running "$other"; then
			# Rejoined: a live peer lists it among the running nodes.
			local i
			for ((i = 0; i < 120; i++)); do
				rctl "$other" cluster_status --formatter json 2>/dev/null | grep -q "\"running_nodes\":\[[^]]*\"$(rnode "$n")\"" && return 0
				sleep 0.5
			done
			die "RabbitMQ node $n did not rejoin"
		fi
	done
}

rabbit_down() {
	local n pid
	for n in "${NODES[@]}"; do
		[[ -d $(rdir "$n") ]] || continue
		pid=$(rabbit_pid "$n") || continue
		timeout 60 rabbitmqctl -q -n "$(rnode "$n")" stop >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	done
}

# rabbit_leader QUEUE: the number of the node leading the quorum queue.
rabbit_leader() {
	local n line
	for n in "${NODES[@]}"; do
		rabbit_app_running "$n" || continue
		line=$(rctl "$n" list_queues name leader --no-table-headers 2>/dev/null | awk -v q="$1" '$1 == q {print $2}')
		[[ $line =~ ^ds([123])@ ]] && { echo "${BASH_REMATCH[1]}"; return 0; }
	done
	die "no leader found for queue $1"
}

# --- Galera -----------------------------------------------------------------

gdir() { echo "$DIR/galera$1"; }
gport() { echo $((3310 + $1)); }
gbase() { echo $((4561 + 10 * $1)); }
gcnf() { echo "$(gdir "$1")/my.cnf"; }
# gsql N SQL: a statement on node N over TCP (never the system server's socket).
gsql() { mariadb --defaults-file="$(gcnf "$1")" -h 127.0.0.1 -P "$(gport "$1")" -u root -N -B -e "$2"; }
# galera_pid N: the pid of node N's mariadbd. Its pid file appears only
# after the state transfer, so a joining node is found by its command line
# (which names this node's own my.cnf).
galera_pid() {
	local f
	f="$(gdir "$1")/mariadbd.pid"
	pid_alive "$f" && { cat "$f"; return 0; }
	pgrep -o -f "^mariadbd --defaults-file=$(gcnf "$1")( |\$)"
}
galera_state() { gsql "$1" "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | awk '{print $2}'; }

galera_install() {
	[[ -e $GALERA_PROVIDER ]] && command -v rsync >/dev/null && return 0
	say "installing galera-4 and rsync from Debian's packages"
	# policy-rc.d keeps apt from (re)starting any service while installing.
	local policy=/usr/sbin/policy-rc.d made=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made=1
	fi
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends galera-4 rsync; } >/dev/null
	[[ -n $made ]] && rm -f "$policy"
	return 0
}

galera_config() {
	local n=$1 d b peers
	d=$(gdir "$n")
	b=$(gbase "$n")
	peers="127.0.0.1:$(gbase 1),127.0.0.1:$(gbase 2),127.0.0.1:$(gbase 3)"
	mkdir -p "$d/data" "$d/tmp"
	cat >"$d/my.cnf" <<EOF
[client]
socket = $d/mariadbd.sock
[mysqld]
user = mysql
datadir = $d/data
tmpdir = $d/tmp
socket = $d/mariadbd.sock
pid-file = $d/mariadbd.pid
log-error = $d/error.log
port = $(gport "$n")
bind-address = 127.0.0.1
skip-name-resolve = ON
local_infile = 1
max_allowed_packet = 64M
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
performance_schema = OFF
wsrep_on = ON
wsrep_provider = $GALERA_PROVIDER
wsrep_cluster_name = datastream
wsrep_cluster_address = gcomm://$peers
wsrep_node_name = galera$n
wsrep_node_address = 127.0.0.1:$b
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:$b;ist.recv_addr=127.0.0.1:$((b + 1));gcache.size=64M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:$((b + 2))
EOF
	chown -R mysql:mysql "$d"
	if [[ ! -d $d/data/mysql ]]; then
		mariadb-install-db --defaults-file="$d/my.cnf" --user=mysql --auth-root-authentication-method=normal \
			--skip-test-db >"$d/install.log" 2>&1 || { cat "$d/install.log" >&2; die "mariadb-install-db failed for node $n"; }
	fi
	chown -R mysql:mysql "$d"
}

# galera_launch N [ARGS]: start mariadbd for node N in the background.
galera_launch() {
	local n=$1
	shift
	# The process keeps our stdout open otherwise, and $(...) callers hang.
	setsid mariadbd --defaults-file="$(gcnf "$n")" "$@" </dev/null >>"$(gdir "$n")/stdout.log" 2>&1 &
}

galera_wait_synced() {
	local n=$1 i
	for ((i = 0; i < 600; i++)); do
		[[ $(galera_state "$n") == Synced ]] && return 0
		if ((i > 25)) && ! galera_pid "$n" >/dev/null; then
			die "Galera node $n exited (see $(gdir "$n")/error.log)"
		fi
		sleep 0.2
	done
	die "Galera node $n is not synced after 120 s (see $(gdir "$n")/error.log)"
}

# galera_start N: start node N as a joiner, from its saved position when it
# has one (IST), else by state transfer from a peer (SST).
galera_start() {
	local n=$1 pos
	galera_pid "$n" >/dev/null && { galera_wait_synced "$n"; return 0; }
	galera_config "$n"
	pos=$(galera_recovery --defaults-file="$(gcnf "$n")" 2>/dev/null || true)
	galera_launch "$n" $pos
	galera_wait_synced "$n"
}

galera_any_running() {
	local n
	for n in "${NODES[@]}"; do galera_pid "$n" >/dev/null && return 0; done
	return 1
}

galera_up() {
	galera_install
	local n
	if ! galera_any_running; then
		say "bootstrapping Galera node 1 on port $(gport 1)"
		galera_config 1
		sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$(gdir 1)/data/grastate.dat" 2>/dev/null || true
		galera_launch 1 --wsrep-new-cluster
		galera_wait_synced 1
	fi
	for n in "${NODES[@]}"; do
		galera_pid "$n" >/dev/null && continue
		say "starting Galera node $n on port $(gport "$n")"
		galera_start "$n"
	done
	for n in "${NODES[@]}"; do galera_wait_synced "$n"; done
	gsql 1 "CREATE DATABASE IF NOT EXISTS \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
}

galera_kill() {
	local pid
	pid=$(galera_pid "$1") || { say "Galera node $1 is not running"; return 0; }
	kill -9 "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

galera_stop() {
	local pid i
	pid=$(galera_pid "$1") || return 0
	kill -TERM "$pid"
	# A node with no reachable peer ignores SIGTERM: -9 after 30 s.
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

galera_down() {
	local n
	for n in 3 2 1; do [[ -d $(gdir "$n") ]] && galera_stop "$n"; done
	return 0
}

# --- commands -------------------------------------------------------------

status() {
	local n
	for n in "${NODES[@]}"; do
		if rabbit_app_running "$n"; then
			echo "rabbit $n $(rnode "$n") port $(rport "$n"): running (pid $(rabbit_pid "$n"))"
		elif rctl "$n" ping >/dev/null 2>&1; then
			echo "rabbit $n $(rnode "$n") port $(rport "$n"): app stopped"
		else
			echo "rabbit $n $(rnode "$n") port $(rport "$n"): down"
		fi
	done
	for n in "${NODES[@]}"; do
		if galera_pid "$n" >/dev/null; then
			echo "galera $n port $(gport "$n"): $(galera_state "$n") (pid $(galera_pid "$n"), cluster size $(gsql "$n" "SHOW STATUS LIKE 'wsrep_cluster_size'" 2>/dev/null | awk '{print $2}'))"
		else
			echo "galera $n port $(gport "$n"): down"
		fi
	done
}

env_lines() {
	local n urls=() addrs=() live=
	for n in "${NODES[@]}"; do
		urls+=("amqp://guest:guest@127.0.0.1:$(rport "$n")/")
		addrs+=("127.0.0.1:$(gport "$n")")
		[[ -z $live ]] && [[ $(galera_state "$n") == Synced ]] && live=$n
	done
	local IFS=,
	echo "AMQP_URL='${urls[*]}'"
	echo "MYSQL_DSN='root@tcp(${addrs[*]})/$DB'"
	[[ -n $live ]] && echo "MYSQL_CLI='--host=127.0.0.1 --port=$(gport "$live") --user=root $DB'"
	return 0
}

down() {
	rabbit_down
	galera_down
	rm -rf "$DIR"
	say "removed $DIR"
}

cmd=${1:-}
shift || true
case $cmd in
up)
	need_root
	mkdir -p "$DIR" && chmod 755 "$DIR"
	rabbit_up
	galera_up
	status
	;;
down) need_root; down ;;
status) status ;;
env) env_lines ;;
leader) rabbit_leader "${1:?queue name}" ;;
kill | stop | start | pid)
	need_root
	kind=${1:-}
	check_node "${2:-}"
	case $kind in rabbit | galera) ;; *) die "expected rabbit or galera, not '$kind'" ;; esac
	"${kind}_$cmd" "$2"
	;;
*)
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
