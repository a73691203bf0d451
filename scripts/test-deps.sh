#!/usr/bin/env bash
# Installs what the fault tests (test/faults) need besides RabbitMQ and
# MariaDB: nginx as a real log writer and wrk to load it; and chromium for
# the dashboard's browser test. From Debian's
# packages when running as root; otherwise it only says what is missing (the
# nginx test then skips with the same message).
set -euo pipefail

say() { printf 'test-deps: %s\n' "$*" >&2; }
have_nginx() { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; }

missing=()
have_nginx || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
# Headless Chromium for the dashboard's browser test (internal/dashboard).
command -v chromium >/dev/null || missing+=(chromium)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
	say "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or the nginx fault test skips"
	exit 0
fi
say "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The package may start the distribution's nginx on port 80; the tests run
# their own instance on a free loopback port and need nothing else.
