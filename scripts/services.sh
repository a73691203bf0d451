#!/usr/bin/env bash
# Makes sure RabbitMQ and MySQL/MariaDB answer on 127.0.0.1 before the demo or
# the tests: start the local services if installed but stopped; install them
# from Debian's packages when running as root on Debian/Ubuntu and they are
# absent; or bring up docker-compose.yml where a Docker engine runs.
# Set AMQP_URL / MYSQL_DSN (or TEST_AMQP_URL / TEST_MYSQL_DSN) to use servers
# elsewhere; then this script only waits for them.
set -euo pipefail

RABBIT_HOST=${RABBIT_HOST:-127.0.0.1}
RABBIT_PORT=${RABBIT_PORT:-5672}
MYSQL_HOST=${HOST:-127.0.0.1}
MYSQL_PORT=${PORT:-3306}

say() { printf 'services: %s\n' "$*" >&2; }
up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_for() { # name host port seconds
	local i
	for ((i = 0; i < $4 * 4; i++)); do
		up "$2" "$3" && return 0
		sleep 0.25
	done
	say "$1 is not answering on $2:$3 after $4 s"
	return 1
}
local_host() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

apt_install() {
	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
		return 1
	fi
	say "installing $* from Debian's packages"
	if [[ ! -f /var/lib/apt/.datastream-updated ]]; then
		apt-get update -qq >/dev/null && touch /var/lib/apt/.datastream-updated
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

docker_up() {
	command -v docker >/dev/null && docker info >/dev/null 2>&1 || return 1
	say "starting docker compose services"
	docker compose up -d --wait
}

ensure_rabbitmq() {
	up "$RABBIT_HOST" "$RABBIT_PORT" && return 0
	local_host "$RABBIT_HOST" || { wait_for RabbitMQ "$RABBIT_HOST" "$RABBIT_PORT" 60; return; }
	if ! command -v rabbitmq-server >/dev/null; then
		apt_install rabbitmq-server || docker_up || { say "RabbitMQ is not installed; install it or run docker compose up -d"; return 1; }
	fi
	if ! up "$RABBIT_HOST" "$RABBIT_PORT" && command -v rabbitmq-server >/dev/null; then
		say "starting RabbitMQ"
		rabbitmq-server -detached >/dev/null 2>&1 || true
	fi
	wait_for RabbitMQ "$RABBIT_HOST" "$RABBIT_PORT" 90
}

ensure_mysql() {
	up "$MYSQL_HOST" "$MYSQL_PORT" && return 0
	local_host "$MYSQL_HOST" || { wait_for MySQL "$MYSQL_HOST" "$MYSQL_PORT" 60; return; }
	if ! command -v mariadbd >/dev/null && ! command -v mysqld >/dev/null && [[ ! -x /usr/sbin/mariadbd ]]; then
		apt_install mariadb-server || docker_up || { say "MariaDB/MySQL is not installed; install it or run docker compose up -d"; return 1; }
	fi
	if ! up "$MYSQL_HOST" "$MYSQL_PORT"; then
		say "starting MariaDB"
		if [[ -x /usr/sbin/mariadbd ]]; then
			mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
			start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd 2>/dev/null ||
				service mariadb start >/dev/null 2>&1 || true
		else
			service mysql start >/dev/null 2>&1 || true
		fi
	fi
	wait_for MariaDB "$MYSQL_HOST" "$MYSQL_PORT" 60
}

ensure_rabbitmq
ensure_mysql
say "RabbitMQ on $RABBIT_HOST:$RABBIT_PORT and MySQL on $MYSQL_HOST:$MYSQL_PORT are up"
