#!/usr/bin/env bash
# Runs `datastream bench` once per variant, alternating the variants ROUNDS
# times, so that variants are compared side by side in the same minutes
# (the machine's speed drifts by 2x from hour to hour). The tuning tables of
# docs/performance.md were made this way.
#
#   scripts/bench-sweep.sh [-r ROUNDS] "COMMON BENCH FLAGS" VARIANT...
#
# A variant is extra bench flags, optionally preceded by environment
# assignments for the run (the components inherit them), e.g.
#
#   scripts/bench-sweep.sh -r 3 "--lines 200000" GOGC=100 GOGC=200 GOGC=400 GOGC=800
#   scripts/bench-sweep.sh -r 3 "--lines 140000 --rate 7000" \
#     '--consumer-flags "--flush-interval 10ms"' '' '--consumer-flags "--flush-interval 40ms"'
#
# Each run's report is printed under its variant and kept as JSON in
# $SWEEP_DIR (default bin/sweep-<time>); `datastream bench --from-json FILE`
# prints one again. An empty variant ('') is the defaults.
set -euo pipefail
BIN=${BIN:-bin/datastream}
rounds=1
if [[ ${1:-} == -r ]]; then
	rounds=$2
	shift 2
fi
if [[ $# -lt 2 ]]; then
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
common=$1
shift
variants=("$@")
[[ -x $BIN ]] || go build -o "$BIN" ./cmd/datastream
dir=${SWEEP_DIR:-bin/sweep-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$dir"
for ((r = 1; r <= rounds; r++)); do
	i=0
	for variant in "${variants[@]}"; do
		i=$((i + 1))
		eval "set -- $variant"
		envs=()
		while [[ $# -gt 0 && $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
			envs+=("$1")
			shift
		done
		out=$dir/v$i-r$r.json
		echo "=== round $r/$rounds, variant $i: ${variant:-(defaults)}"
		# shellcheck disable=SC2086 # common is a list of flags
		env ${envs[@]+"${envs[@]}"} "$BIN" bench $common "$@" --log-level warn --json >"$out"
		"$BIN" bench --from-json "$out"
	done
done
echo "reports: $dir"
